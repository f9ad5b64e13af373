package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deprov/deprov/internal/testkit"
)

const (
	testToken = "s3cret"
	mount     = "/sandbox/scim/v2"
	patchOp   = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// bundle is one sandbox served over real HTTP, mounted the way deprov demo mounts it.
type bundle struct {
	app  *App
	url  string
	logs *syncBuffer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	logs := &syncBuffer{}
	app := New(testToken, slog.New(slog.NewTextHandler(logs, nil)))
	mux := http.NewServeMux()
	mux.Handle(mount+"/", http.StripPrefix(mount, app))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &bundle{app: app, url: srv.URL + mount, logs: logs}
}

// response is a decoded reply; body is nil for an empty one.
type response struct {
	status      int
	contentType string
	body        map[string]any
	err         error // transport or decoding failure
}

// do sends a request with the right token; body, when not nil, is encoded as JSON.
func (b *bundle) do(t *testing.T, method, path string, body any) response {
	t.Helper()
	return b.doAuth(t, "Bearer "+testToken, method, path, body)
}

func (b *bundle) doAuth(t *testing.T, auth, method, path string, body any) response {
	t.Helper()
	r := b.send(auth, method, path, body)
	if r.err != nil {
		t.Fatalf("%s %s: %v", method, path, r.err)
	}
	return r
}

// doNoFatal is do for goroutines that are not the test's own.
func (b *bundle) doNoFatal(method, path string, body any) response {
	return b.send("Bearer "+testToken, method, path, body)
}

func (b *bundle) send(auth, method, path string, body any) response {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{err: err}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		return response{err: err}
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), err: err}
	if err == nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			out.err = fmt.Errorf("body is not a JSON object: %w\n%s", err, raw)
		}
	}
	return out
}

// patch builds a PatchOp request body.
func patch(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchOp}, "Operations": ops}
}

func wantStatus(t *testing.T, got response, want int) {
	t.Helper()
	if got.status != want {
		t.Fatalf("status = %d, want %d; body %v", got.status, want, got.body)
	}
}

// wantSCIMError checks that r is a SCIM error response with the given status.
func wantSCIMError(t *testing.T, r response, status int) {
	t.Helper()
	wantStatus(t, r, status)
	if schemas := fmt.Sprint(r.body["schemas"]); !strings.Contains(schemas, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Errorf("schemas = %s, want the SCIM Error schema", schemas)
	}
	if got := r.body["status"]; got != fmt.Sprint(status) {
		t.Errorf("body status = %v, want %q", got, fmt.Sprint(status))
	}
}

// listIDs returns the ids of a ListResponse's resources, in order.
func listIDs(r response) []string {
	var ids []string
	resources, _ := r.body["Resources"].([]any)
	for _, res := range resources {
		ids = append(ids, res.(map[string]any)["id"].(string))
	}
	return ids
}

// memberIDs returns the member values of a group resource.
func memberIDs(group map[string]any) []string {
	var ids []string
	members, _ := group["members"].([]any)
	for _, m := range members {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	return ids
}

// groupIDs returns the group values of a user resource's read-only groups attribute.
func groupIDs(user map[string]any) []string {
	var ids []string
	groups, _ := user["groups"].([]any)
	for _, g := range groups {
		ids = append(ids, g.(map[string]any)["value"].(string))
	}
	return ids
}

// seedUsers seeds n users u1..un and returns their ids.
func seedUsers(b *bundle, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		name := fmt.Sprintf("u%d", i+1)
		ids[i] = b.app.Seed(name, "User "+name, name+"@example.com")
	}
	return ids
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := seedUsers(b, 5)

	tests := []struct {
		name      string
		query     string
		wantIDs   []string
		wantTotal int
	}{
		{"first page", "?startIndex=1&count=2", ids[0:2], 5},
		{"second page", "?startIndex=3&count=2", ids[2:4], 5},
		{"last page is short", "?startIndex=5&count=2", ids[4:5], 5},
		{"past the end", "?startIndex=6&count=2", nil, 5},
		{"count zero gives only the total", "?count=0", nil, 5},
		{"no paging gives all", "", ids, 5},
		{"filter by userName", "?filter=" + url.QueryEscape(`userName eq "u3"`), ids[2:3], 1},
		{"filter is case-insensitive for userName", "?filter=" + url.QueryEscape(`userName eq "U4"`), ids[3:4], 1},
		{"filter matching nobody", "?filter=" + url.QueryEscape(`userName eq "nobody"`), nil, 0},
		{"filter by active", "?filter=" + url.QueryEscape(`active eq true`), ids, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodGet, "/Users"+tt.query, nil)
			wantStatus(t, r, http.StatusOK)
			if got := r.body["totalResults"]; got != float64(tt.wantTotal) {
				t.Errorf("totalResults = %v, want %d", got, tt.wantTotal)
			}
			if got := listIDs(r); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("ids = %v, want %v", got, tt.wantIDs)
			}
		})
	}

	t.Run("walk all pages", func(t *testing.T) {
		t.Parallel()
		var got []string
		pages := 0
		for start := 1; ; start += 2 {
			r := b.do(t, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=2", start), nil)
			wantStatus(t, r, http.StatusOK)
			if r.body["totalResults"] != float64(5) {
				t.Fatalf("totalResults = %v, want 5", r.body["totalResults"])
			}
			page := listIDs(r)
			if len(page) == 0 {
				break
			}
			pages++
			got = append(got, page...)
		}
		if pages != 3 || !slices.Equal(got, ids) {
			t.Errorf("walked %d pages with %v, want 3 pages with %v", pages, got, ids)
		}
	})
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.app.Seed("ada", "Ada Lovelace", "ada@example.com")
	gid := b.app.AddGroup("engineers", id)

	r := b.do(t, http.MethodGet, "/Users/"+id, nil)
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.contentType, "application/scim+json") {
		t.Errorf("Content-Type = %q", r.contentType)
	}
	for key, want := range map[string]any{"id": id, "userName": "ada", "displayName": "Ada Lovelace", "active": true} {
		if r.body[key] != want {
			t.Errorf("%s = %v, want %v", key, r.body[key], want)
		}
	}
	emails, _ := r.body["emails"].([]any)
	if len(emails) != 1 || emails[0].(map[string]any)["value"] != "ada@example.com" {
		t.Errorf("emails = %v", r.body["emails"])
	}
	if got := groupIDs(r.body); !slices.Equal(got, []string{gid}) {
		t.Errorf("groups = %v, want [%s]", got, gid)
	}

	wantSCIMError(t, b.do(t, http.MethodGet, "/Users/no-such-id", nil), http.StatusNotFound)
}

func TestListGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := seedUsers(b, 3)
	gids := []string{
		b.app.AddGroup("g1", ids[0], ids[1]),
		b.app.AddGroup("g2", ids[2]),
		b.app.AddGroup("g3"),
	}

	r := b.do(t, http.MethodGet, "/Groups?startIndex=1&count=2", nil)
	wantStatus(t, r, http.StatusOK)
	if r.body["totalResults"] != float64(3) {
		t.Errorf("totalResults = %v, want 3", r.body["totalResults"])
	}
	if got := listIDs(r); !slices.Equal(got, gids[:2]) {
		t.Fatalf("ids = %v, want %v", got, gids[:2])
	}
	first := r.body["Resources"].([]any)[0].(map[string]any)
	if first["displayName"] != "g1" {
		t.Errorf("displayName = %v, want g1", first["displayName"])
	}
	if got := memberIDs(first); !slices.Equal(got, ids[:2]) {
		t.Errorf("members = %v, want %v", got, ids[:2])
	}
	if display := first["members"].([]any)[0].(map[string]any)["display"]; display != "User u1" {
		t.Errorf("member display = %v, want the user's displayName", display)
	}

	r = b.do(t, http.MethodGet, "/Groups?startIndex=3&count=2", nil)
	wantStatus(t, r, http.StatusOK)
	if got := listIDs(r); !slices.Equal(got, gids[2:]) {
		t.Errorf("ids = %v, want %v", got, gids[2:])
	}
}

func TestDisableUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   map[string]any
	}{
		{"path form", map[string]any{"op": "replace", "path": "active", "value": false}},
		{"path-less form", map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
		{"capitalised op as Azure AD sends it", map[string]any{"op": "Replace", "path": "active", "value": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ids := seedUsers(b, 2)

			r := b.do(t, http.MethodPatch, "/Users/"+ids[0], patch(tt.op))
			wantStatus(t, r, http.StatusOK)
			if r.body["active"] != false {
				t.Errorf("PATCH response active = %v, want false", r.body["active"])
			}
			if r = b.do(t, http.MethodGet, "/Users/"+ids[0], nil); r.body["active"] != false {
				t.Errorf("GET active = %v, want false", r.body["active"])
			}
			if r.body["userName"] != "u1" || r.body["displayName"] != "User u1" {
				t.Errorf("other attributes changed: %v", r.body)
			}
			users := b.app.Users()
			if users[0].Active || !users[1].Active {
				t.Errorf("Users() = %+v, want only u1 disabled", users)
			}
			if logs := b.logs.String(); !strings.Contains(logs, `msg="sandbox: account disabled" userName=u1`) {
				t.Errorf("log lacks the disable line:\n%s", logs)
			}

			// Disabling again succeeds and changes nothing, so it logs nothing.
			before := strings.Count(b.logs.String(), "account disabled")
			wantStatus(t, b.do(t, http.MethodPatch, "/Users/"+ids[0], patch(tt.op)), http.StatusOK)
			if after := strings.Count(b.logs.String(), "account disabled"); after != before {
				t.Errorf("a no-op disable logged a change")
			}
		})
	}
}

func TestEnableUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.app.Seed("ada", "Ada", "")
	disable := patch(map[string]any{"op": "replace", "path": "active", "value": false})
	enable := patch(map[string]any{"op": "replace", "path": "active", "value": true})
	wantStatus(t, b.do(t, http.MethodPatch, "/Users/"+id, disable), http.StatusOK)
	r := b.do(t, http.MethodPatch, "/Users/"+id, enable)
	wantStatus(t, r, http.StatusOK)
	if r.body["active"] != true {
		t.Errorf("active = %v, want true", r.body["active"])
	}
	if !strings.Contains(b.logs.String(), `msg="sandbox: account enabled" userName=ada`) {
		t.Errorf("log lacks the enable line:\n%s", b.logs)
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := seedUsers(b, 2)
	gid := b.app.AddGroup("g", ids...)

	r := b.do(t, http.MethodDelete, "/Users/"+ids[0], nil)
	wantStatus(t, r, http.StatusNoContent)
	if r.body != nil {
		t.Errorf("204 came with a body: %v", r.body)
	}
	wantSCIMError(t, b.do(t, http.MethodDelete, "/Users/"+ids[0], nil), http.StatusNotFound)
	wantSCIMError(t, b.do(t, http.MethodGet, "/Users/"+ids[0], nil), http.StatusNotFound)

	g := b.do(t, http.MethodGet, "/Groups/"+gid, nil)
	if got := memberIDs(g.body); !slices.Equal(got, ids[1:]) {
		t.Errorf("members after delete = %v, want %v", got, ids[1:])
	}
	if users := b.app.Users(); len(users) != 1 || users[0].ID != ids[1] {
		t.Errorf("Users() = %+v", users)
	}
	if logs := b.logs.String(); strings.Count(logs, "sandbox: account deleted") != 1 ||
		!strings.Contains(logs, `msg="sandbox: account deleted" userName=u1`) {
		t.Errorf("want exactly one delete line for u1:\n%s", logs)
	}
}

func TestRemoveGroupMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		op   func(userID string) map[string]any
	}{
		{"path filter", func(id string) map[string]any {
			return map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}
		}},
		{"value list", func(id string) map[string]any {
			return map[string]any{"op": "remove", "path": "members", "value": []any{map[string]any{"value": id}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ids := seedUsers(b, 2)
			gid := b.app.AddGroup("engineers", ids...)
			other := b.app.AddGroup("everyone", ids...)

			r := b.do(t, http.MethodPatch, "/Groups/"+gid, patch(tt.op(ids[0])))
			wantStatus(t, r, http.StatusOK)
			if got := memberIDs(r.body); !slices.Equal(got, ids[1:]) {
				t.Errorf("members = %v, want %v", got, ids[1:])
			}
			u := b.do(t, http.MethodGet, "/Users/"+ids[0], nil)
			if got := groupIDs(u.body); !slices.Equal(got, []string{other}) {
				t.Errorf("removed user's groups = %v, want [%s]", got, other)
			}
			u = b.do(t, http.MethodGet, "/Users/"+ids[1], nil)
			if got := groupIDs(u.body); !slices.Equal(got, []string{gid, other}) {
				t.Errorf("remaining user's groups = %v, want [%s %s]", got, gid, other)
			}
			if users := b.app.Users(); !slices.Equal(users[0].Groups, []string{"everyone"}) {
				t.Errorf("Users()[0].Groups = %v, want [everyone]", users[0].Groups)
			}
			if !strings.Contains(b.logs.String(), `msg="sandbox: group member removed" group=engineers userName=u1`) {
				t.Errorf("log lacks the removal line:\n%s", b.logs)
			}

			// The member is gone already: removing it again is success and changes nothing.
			r = b.do(t, http.MethodPatch, "/Groups/"+gid, patch(tt.op(ids[0])))
			wantStatus(t, r, http.StatusOK)
			if got := memberIDs(r.body); !slices.Equal(got, ids[1:]) {
				t.Errorf("members after second removal = %v, want %v", got, ids[1:])
			}
			if n := strings.Count(b.logs.String(), "group member removed"); n != 1 {
				t.Errorf("%d removal lines, want 1", n)
			}
		})
	}
}

func TestAddGroupMember(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := seedUsers(b, 2)
	gid := b.app.AddGroup("g", ids[0])
	add := patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ids[1]}}})

	for range 2 { // adding a present member is a no-op
		r := b.do(t, http.MethodPatch, "/Groups/"+gid, add)
		wantStatus(t, r, http.StatusOK)
		if got := memberIDs(r.body); !slices.Equal(got, ids) {
			t.Errorf("members = %v, want %v", got, ids)
		}
	}
	if n := strings.Count(b.logs.String(), `msg="sandbox: group member added"`); n != 1 {
		t.Errorf("%d add lines, want 1:\n%s", n, b.logs)
	}

	unknown := patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "nobody"}}})
	wantSCIMError(t, b.do(t, http.MethodPatch, "/Groups/"+gid, unknown), http.StatusBadRequest)
}

func TestPatchErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.app.Seed("ada", "Ada", "")
	gid := b.app.AddGroup("g", id)

	tests := []struct {
		name   string
		path   string
		body   map[string]any
		status int
	}{
		{"unknown user", "/Users/nobody", patch(map[string]any{"op": "replace", "path": "active", "value": false}), http.StatusNotFound},
		{"unknown group", "/Groups/nobody", patch(map[string]any{"op": "remove", "path": `members[value eq "x"]`}), http.StatusNotFound},
		{"groups is read-only", "/Users/" + id, patch(map[string]any{"op": "replace", "path": "groups", "value": []any{map[string]any{"value": gid}}}), http.StatusBadRequest},
		{"userName cannot be removed", "/Users/" + id, patch(map[string]any{"op": "remove", "path": "userName"}), http.StatusBadRequest},
		{"active must be a boolean", "/Users/" + id, patch(map[string]any{"op": "replace", "path": "active", "value": "no"}), http.StatusBadRequest},
		{"unknown attribute", "/Users/" + id, patch(map[string]any{"op": "replace", "path": "shoeSize", "value": "9"}), http.StatusBadRequest},
		{"missing PatchOp schema", "/Users/" + id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}, http.StatusBadRequest},
	}
	t.Run("refused", func(t *testing.T) { // returns once its parallel subtests have finished
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				wantSCIMError(t, b.do(t, http.MethodPatch, tt.path, tt.body), tt.status)
			})
		}
	})
	users := b.app.Users()
	if len(users) != 1 || !users[0].Active || users[0].UserName != "ada" || !slices.Equal(users[0].Groups, []string{"g"}) {
		t.Errorf("refused patches changed the user: %+v", users)
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":   "grace",
		"externalId": "e-42",
		"name":       map[string]any{"givenName": "Grace", "familyName": "Hopper"},
		"emails":     map[string]any{"value": "grace@example.com"}, // a lone object, not a list
	}
	r := b.do(t, http.MethodPost, "/Users", body)
	wantStatus(t, r, http.StatusCreated)
	if r.body["active"] != true || r.body["externalId"] != "e-42" {
		t.Errorf("created user = %v", r.body)
	}

	// The lone email object was stored as a list, so a value filter on emails finds it.
	r = b.do(t, http.MethodGet, "/Users?filter="+url.QueryEscape(`emails[value eq "grace@example.com"]`), nil)
	wantStatus(t, r, http.StatusOK)
	if r.body["totalResults"] != float64(1) {
		t.Errorf("filter by email: totalResults = %v, want 1", r.body["totalResults"])
	}

	wantSCIMError(t, b.do(t, http.MethodPost, "/Users", body), http.StatusConflict)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.app.Seed("ada", "Ada", "")

	tests := []struct {
		name string
		auth string
		want int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token prefix", "Bearer s3", http.StatusUnauthorized},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"scheme only", "Bearer", http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"scheme is case-insensitive", "bearer " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/Users", "/Users/" + id, "/ServiceProviderConfig"} {
				r := b.doAuth(t, tt.auth, http.MethodGet, path, nil)
				if tt.want == http.StatusUnauthorized {
					wantSCIMError(t, r, http.StatusUnauthorized)
				} else {
					wantStatus(t, r, tt.want)
				}
			}
		})
	}

	t.Run("a refused change changes nothing", func(t *testing.T) {
		t.Parallel()
		r := b.doAuth(t, "Bearer nope", http.MethodDelete, "/Users/"+id, nil)
		wantSCIMError(t, r, http.StatusUnauthorized)
		if users := b.app.Users(); len(users) != 1 {
			t.Errorf("Users() = %+v, want ada still there", users)
		}
	})

	t.Run("empty token authorizes nothing", func(t *testing.T) {
		t.Parallel()
		app := New("", nil)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/Users", nil)
		req.Header.Set("Authorization", "Bearer ")
		app.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", rec.Code)
		}
	})
}

// TestConcurrent runs what a deprov revocation worker pool does, many at once; -race checks it.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 20
	ids := seedUsers(b, n)
	gid := b.app.AddGroup("everyone", ids...)

	// Goroutines other than the test's may not call t.Fatal, so each reports with t.Errorf.
	check := func(method, path string, body any, want int) {
		if r := b.doNoFatal(method, path, body); r.err != nil || r.status != want {
			t.Errorf("%s %s: status %d, error %v; want %d", method, path, r.status, r.err, want)
		}
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			check(http.MethodPatch, "/Users/"+id, patch(map[string]any{"op": "replace", "path": "active", "value": false}), http.StatusOK)
			check(http.MethodPatch, "/Groups/"+gid, patch(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}), http.StatusOK)
			check(http.MethodGet, "/Users?startIndex=1&count=5", nil, http.StatusOK)
			check(http.MethodGet, "/Groups", nil, http.StatusOK)
			check(http.MethodGet, "/Users?filter="+url.QueryEscape(`userName eq "u1"`), nil, http.StatusOK)
			if i%2 == 0 {
				check(http.MethodDelete, "/Users/"+id, nil, http.StatusNoContent)
			}
			_ = b.app.Users()
		})
	}
	wg.Wait()

	users := b.app.Users()
	if len(users) != n/2 {
		t.Errorf("%d users left, want %d", len(users), n/2)
	}
	for _, u := range users {
		if u.Active || len(u.Groups) != 0 {
			t.Errorf("user %s: active %v, groups %v; want disabled with no groups", u.UserName, u.Active, u.Groups)
		}
	}
	r := b.do(t, http.MethodGet, "/Groups/"+gid, nil)
	if got := memberIDs(r.body); len(got) != 0 {
		t.Errorf("members = %v, want none", got)
	}
	if _, ok := r.body["members"]; ok {
		t.Errorf("an empty group should have no members attribute: %v", r.body)
	}
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = testkit.Buffer
