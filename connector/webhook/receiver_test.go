package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/deprov/deprov/connector/webhook"
)

// receiver is an application's webhook endpoint as its owners would write
// it: it verifies the signature with webhook.Verify, keeps its accounts in
// memory, and answers 409 (or 404) when the account is already as asked.
type receiver struct {
	*httptest.Server
	secret []byte

	mu       sync.Mutex
	users    map[string]*user // by userName
	requests []received
}

type user struct {
	active bool
	groups []string
}

// received is one request as the receiver saw it.
type received struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
	status  int
}

func newReceiver(t *testing.T, secret string, users []string, groups map[string][]string) *receiver {
	t.Helper()
	rc := &receiver{secret: []byte(secret), users: map[string]*user{}}
	for _, u := range users {
		rc.users[u] = &user{active: true}
	}
	for g, members := range groups {
		for _, m := range members {
			rc.users[m].groups = append(rc.users[m].groups, g)
		}
	}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := received{header: r.Header.Clone(), body: body}
	status, msg := rc.handle(r, body, &rec.payload)
	rec.status = status
	rc.mu.Lock()
	rc.requests = append(rc.requests, rec)
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
}

func (rc *receiver) handle(r *http.Request, body []byte, p *webhook.Payload) (int, string) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "POST only"
	}
	if err := webhook.Verify(rc.secret, r, body, 0); err != nil {
		return http.StatusUnauthorized, err.Error()
	}
	if err := json.Unmarshal(body, p); err != nil {
		return http.StatusBadRequest, "bad JSON: " + err.Error()
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	u, ok := rc.users[p.Account.UserName]
	if !ok {
		return http.StatusNotFound, "no such account"
	}
	switch p.Action {
	case webhook.ActionDisable:
		if !u.active {
			return http.StatusConflict, "already disabled"
		}
		u.active = false
	case webhook.ActionEnable:
		if u.active {
			return http.StatusConflict, "already active"
		}
		u.active = true
	case webhook.ActionDelete:
		delete(rc.users, p.Account.UserName)
		return http.StatusNoContent, ""
	case webhook.ActionRevoke:
		if len(u.groups) == 0 {
			return http.StatusConflict, "no groups"
		}
		u.groups = nil
	default:
		return http.StatusUnprocessableEntity, "unknown action " + p.Action
	}
	return http.StatusOK, "done"
}

// state is a user's state as the receiver has it.
func (rc *receiver) state(userName string) (exists, active bool, groups []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	u, ok := rc.users[userName]
	if !ok {
		return false, false, nil
	}
	return true, u.active, slices.Clone(u.groups)
}

func (rc *receiver) log() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.requests)
}
