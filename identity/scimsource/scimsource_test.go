package scimsource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/identity/scimsource"
	"github.com/deprov/deprov/internal/testkit"
	"github.com/deprov/deprov/store"
)

const (
	hrToken  = "hr-secret-token-0123456789"
	idpToken = "idp-secret-token-9876543210"

	leaveDate = scimsource.URNEnterprise + ":employeeLeaveDate"
	acmeURN   = "urn:acme:params:scim:schemas:extension:hr:2.0:User"
)

// memSink is an in-memory Sink with a fixed clock; it records every put.
type memSink struct {
	mu   sync.Mutex
	now  time.Time
	ids  map[string]map[string]identity.Identity
	puts []put
}

type put struct {
	sourceID, actor string
	idn             identity.Identity
}

var _ scimsource.Sink = (*memSink)(nil)

func newMemSink() *memSink {
	return &memSink{now: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC), ids: map[string]map[string]identity.Identity{}}
}

func (s *memSink) PutIdentity(_ context.Context, sourceID string, idn identity.Identity, actor string) (identity.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if idn.SourceID != sourceID || idn.ExternalID == "" {
		return identity.Identity{}, fmt.Errorf("bad identity %q/%q for source %q", idn.SourceID, idn.ExternalID, sourceID)
	}
	s.now = s.now.Add(time.Minute)
	idn.UpdatedAt = s.now
	if s.ids[sourceID] == nil {
		s.ids[sourceID] = map[string]identity.Identity{}
	}
	s.ids[sourceID][idn.ExternalID] = idn
	s.puts = append(s.puts, put{sourceID, actor, idn})
	return idn, nil
}

func (s *memSink) GetIdentity(_ context.Context, sourceID, externalID string) (identity.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idn, ok := s.ids[sourceID][externalID]
	if !ok {
		return identity.Identity{}, fmt.Errorf("identity %s/%s: %w", sourceID, externalID, store.ErrNotFound)
	}
	return idn, nil
}

func (s *memSink) ListIdentities(_ context.Context, sourceID string, q store.IdentityQuery) ([]identity.Identity, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []identity.Identity
	for _, idn := range s.ids[sourceID] {
		switch {
		case q.UserName != "" && !strings.EqualFold(idn.UserName, q.UserName),
			q.ExternalID != "" && idn.ExternalID != q.ExternalID,
			q.HideStatus != "" && strings.EqualFold(idn.Status, q.HideStatus):
			continue
		}
		all = append(all, idn)
	}
	slices.SortFunc(all, func(a, b identity.Identity) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	page := all[min(q.Offset, len(all)):]
	page = page[:min(limit, len(page))]
	return page, len(all), nil
}

func (s *memSink) last(t *testing.T) put {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.puts) == 0 {
		t.Fatal("the sink received nothing")
	}
	return s.puts[len(s.puts)-1]
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.puts)
}

// testSources: hr with the default mapping and the enterprise leave date;
// idp with a custom extension for status and end date and its own words.
func testSources() []config.Source {
	return []config.Source{
		{ID: "payroll", Type: "csv", Path: "payroll.csv"},
		{ID: "hr", Type: "scim", Token: hrToken, SCIM: &config.SCIMMapping{EndDate: leaveDate}},
		{ID: "idp", Type: "scim", Token: idpToken, SCIM: &config.SCIMMapping{
			Status:         acmeURN + ":employmentStatus",
			EndDate:        acmeURN + ":lastDay",
			ActiveStatus:   "Employed",
			InactiveStatus: "Suspended",
			DeletedStatus:  "Gone",
		}},
		{ID: "unset", Type: "scim", Token: ""},
	}
}

// bundle is what a test needs: the server, its sink and its log.
type bundle struct {
	h    http.Handler
	srv  *httptest.Server
	sink *memSink
	logs *syncBuffer
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = testkit.Buffer

func setup(t testing.TB) *bundle {
	t.Helper()
	return setupWith(t, newMemSink(), testSources())
}

func setupWith(t testing.TB, sink scimsource.Sink, sources []config.Source) *bundle {
	t.Helper()
	logs := &syncBuffer{}
	h := scimsource.New(scimsource.Options{
		Sources:      func(context.Context) ([]config.Source, error) { return sources, nil },
		Sink:         sink,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBodyBytes: 64 << 10,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ms, _ := sink.(*memSink)
	return &bundle{h: h, srv: srv, sink: ms, logs: logs}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with the hr token; body may be a string or a value to encode.
func (b *bundle) do(t testing.TB, method, path string, body any) response {
	t.Helper()
	return b.doAs(t, hrToken, method, path, body)
}

func (b *bundle) doAs(t testing.TB, token, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	switch x := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(x)
	case []byte:
		rd = bytes.NewReader(x)
	default:
		j, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
			t.Fatalf("%s %s: Content-Type %q, want application/scim+json", method, path, ct)
		}
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

// wantStatus fails unless the response has the status.
func (r response) wantStatus(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d\n%s", r.status, status, r.raw)
	}
	return r
}

// wantError checks an RFC 7644 §3.12 error.
func (r response) wantError(t testing.TB, status int, scimType, detail string) {
	t.Helper()
	r.wantStatus(t, status)
	if got := r.body["schemas"]; fmt.Sprint(got) != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
		t.Errorf("schemas %v, want the Error URN", got)
	}
	if got := r.body["status"]; got != fmt.Sprint(status) {
		t.Errorf("status member %#v, want the string %q", got, fmt.Sprint(status))
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		t.Errorf("scimType %q, want %q\n%s", got, scimType, r.raw)
	}
	if got, _ := r.body["detail"].(string); !strings.Contains(got, detail) {
		t.Errorf("detail %q, want it to contain %q", got, detail)
	}
}

// get reads a member by a dotted path ("meta.location", "emails.0.value",
// "urn:…:2.0:User.manager.value": keys may hold dots).
func get(v any, path string) any {
	parts := strings.Split(path, ".")
	for i := 0; i < len(parts); {
		switch x := v.(type) {
		case map[string]any:
			found := false
			for j := len(parts); j > i; j-- {
				if e, ok := x[strings.Join(parts[i:j], ".")]; ok {
					v, i, found = e, j, true
					break
				}
			}
			if !found {
				return nil
			}
		case []any:
			var n int
			if _, err := fmt.Sscan(parts[i], &n); err != nil || n >= len(x) {
				return nil
			}
			v, i = x[n], i+1
		default:
			return nil
		}
	}
	return v
}

// user is a valid User body for the hr source.
func user(externalID, userName string) map[string]any {
	u := map[string]any{
		"schemas":  []any{scimsource.URNUser, scimsource.URNEnterprise},
		"userName": userName,
		"name":     map[string]any{"givenName": "Bob", "familyName": "Builder"},
		"emails": []any{
			map[string]any{"value": "bob.home@example.com", "type": "home"},
			map[string]any{"value": userName + "@example.com", "type": "work", "primary": true},
		},
		"active": true,
		"title":  "Engineer",
		scimsource.URNEnterprise: map[string]any{
			"department":        "R&D",
			"employeeNumber":    "E-1001",
			"costCenter":        "CC-42",
			"manager":           map[string]any{"value": "alice"},
			"employeeLeaveDate": "2026-11-30",
		},
	}
	if externalID != "" {
		u["externalId"] = externalID
	}
	return u
}

func patchOp(ops ...map[string]any) map[string]any {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	return map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": l}
}

// TestLogRequestID: the request line carries the id the API middleware
// set on the response, not one the client sent.
func TestLogRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// What api.Middleware does before it calls the handler.
	withID := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "rid-0123abcd")
		b.h.ServeHTTP(w, r)
	})
	for _, tc := range []struct {
		name   string
		h      http.Handler
		sent   string
		wantID string // as the text handler writes it
	}{
		{"with-middleware", withID, "client-chosen", "rid-0123abcd"},
		{"without-middleware", b.h, "client-chosen", `""`},
	} {
		req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users/"+tc.name, nil)
		req.Header.Set("Authorization", "Bearer "+hrToken)
		req.Header.Set("X-Request-Id", tc.sent)
		tc.h.ServeHTTP(httptest.NewRecorder(), req)
		var line string
		for l := range strings.Lines(b.logs.String()) {
			if strings.Contains(l, `msg="scim request"`) && strings.Contains(l, "/scim/v2/Users/"+tc.name+" ") {
				line = l
			}
		}
		if want := fmt.Sprintf("request_id=%s method=GET", tc.wantID); !strings.Contains(line, want) {
			t.Errorf("%s: log line %q, want %q", tc.name, line, want)
		}
		if strings.Contains(line, tc.sent) {
			t.Errorf("%s: the client's id reached the log: %q", tc.name, line)
		}
	}
}
