package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// Edge cases that SCIMMY does not produce, against hand-written servers.

const testToken = "unit-test-token-7c1d"

// fake starts an httptest server that checks the token and headers and
// hands the request to h, and returns a connector on it.
func fake(t *testing.T, h http.HandlerFunc) *Connector {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("Authorization = %q", got)
		}
		if got := r.Header.Get("Accept"); got != mediaType {
			t.Errorf("Accept = %q", got)
		}
		if r.ContentLength > 0 && r.Header.Get("Content-Type") != mediaType {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		w.Header().Set("Content-Type", mediaType)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{URL: srv.URL + "/scim/v2", Token: testToken, PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func scimErr(w http.ResponseWriter, status int, scimType, detail string) {
	writeJSON(w, status, map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:api:messages:2.0:Error"},
		"status":   strconv.Itoa(status),
		"scimType": scimType,
		"detail":   detail,
	})
}

// page answers a list request from items, honouring startIndex but giving
// at most perPage per page whatever count asked.
func page(w http.ResponseWriter, r *http.Request, items []map[string]any, perPage int, total bool) {
	start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
	start = max(start, 1)
	var res []map[string]any
	if start-1 < len(items) {
		res = items[start-1 : min(len(items), start-1+perPage)]
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}, "Resources": res, "startIndex": start}
	if total {
		body["totalResults"] = len(items)
	}
	writeJSON(w, http.StatusOK, body)
}

func users(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"id": fmt.Sprint("u", i), "userName": fmt.Sprint("user", i)}
	}
	return out
}

func collect(t *testing.T, c *Connector) ([]account.Account, error) {
	t.Helper()
	var out []account.Account
	err := c.ListAccounts(context.Background(), func(a account.Account) error { out = append(out, a); return nil })
	return out, err
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		perPage int  // the most the server gives, whatever count asks
		total   bool // whether it sends totalResults
		ignore  bool // whether it ignores startIndex
		want    int
		wantErr string
	}{
		{"full pages", 3, true, false, 7, ""},
		{"server pages smaller than asked", 2, true, false, 7, ""},
		{"no totalResults: stop on the empty page", 3, false, false, 7, ""},
		{"startIndex ignored", 3, true, true, 0, "seems to ignore startIndex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all := users(7)
			var starts []string
			c := fake(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/scim/v2/Groups":
					page(w, r, nil, 3, true)
				case "/scim/v2/Users":
					if r.URL.Query().Get("count") != "3" {
						t.Errorf("count = %q, want the page size 3", r.URL.Query().Get("count"))
					}
					starts = append(starts, r.URL.Query().Get("startIndex"))
					if tc.ignore {
						r.URL.RawQuery = ""
					}
					page(w, r, all, tc.perPage, tc.total)
				}
			})
			got, err := collect(t, c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ListAccounts = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("ListAccounts = %d accounts, %v; want %d (startIndex %v)", len(got), err, tc.want, starts)
			}
		})
	}
}

func TestListMapping(t *testing.T) {
	t.Parallel()
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/scim/v2/Groups":
			scimErr(w, http.StatusNotFound, "", "no groups here")
		case "/scim/v2/Users":
			page(w, r, []map[string]any{{
				"id": "1", "userName": "ann", "active": "False", "externalId": "E1", "title": "Dr",
				"password": "never-listed",
				"name":     map[string]any{"givenName": "Ann", "familyName": "Lee"},
				"emails":   []any{map[string]any{"value": "ann@home"}, map[string]any{"value": "ann@work", "primary": true}},
				"groups":   []any{map[string]any{"value": "g2", "display": "ops"}, map[string]any{"value": "g1", "display": "eng"}},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"employeeNumber": "42", "department": "R&D"},
			}, {
				"id": "2", "USERNAME": "ben", "emails": []any{map[string]any{"value": "ben@home"}},
			}}, 10, true)
		}
	})
	got, err := collect(t, c)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListAccounts = %v, %v", got, err)
	}
	ann, ben := got[0], got[1]
	if ann.State != account.Disabled || ann.Email != "ann@work" {
		t.Errorf("ann = %+v, want disabled with the primary email", ann)
	}
	if want := []account.Entitlement{{ID: "g1", Name: "eng"}, {ID: "g2", Name: "ops"}}; !slices.Equal(ann.Entitlements, want) {
		t.Errorf("ann's entitlements = %v, want %v (from the groups attribute)", ann.Entitlements, want)
	}
	for k, want := range map[string]string{"externalId": "E1", "title": "Dr", "name.givenName": "Ann", "employeeNumber": "42", "department": "R&D"} {
		if ann.Attributes[k] != want {
			t.Errorf("ann's %s = %q, want %q", k, ann.Attributes[k], want)
		}
	}
	if _, ok := ann.Attributes["password"]; ok {
		t.Error("password listed as an attribute")
	}
	if ben.UserName != "ben" || ben.State != account.Active || ben.Email != "ben@home" {
		t.Errorf("ben = %+v, want active (no active attribute) with his only email", ben)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		h         http.HandlerFunc
		retryable bool
		after     time.Duration
		want      string
	}{
		{"forbidden", func(w http.ResponseWriter, _ *http.Request) {
			scimErr(w, http.StatusForbidden, "", "token "+testToken+" lacks scope")
		}, false, 0, "authentication failed (403): check the application's token"},
		{"bad request detail", func(w http.ResponseWriter, _ *http.Request) {
			scimErr(w, http.StatusBadRequest, "invalidValue", "active must be boolean, token was "+testToken)
		}, false, 0, "400 Bad Request (invalidValue): active must be boolean, token was [redacted]"},
		{"conflict without a SCIM body", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, "<html>nope</html>")
		}, false, 0, "409 Conflict"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		}, false, 0, "302 Found"},
		{"500", func(w http.ResponseWriter, _ *http.Request) {
			scimErr(w, http.StatusInternalServerError, "", "boom")
		}, true, 0, "500 Internal Server Error: boom"},
		{"502 with a date", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT")
			w.WriteHeader(http.StatusBadGateway)
		}, true, 30 * time.Second, "502 Bad Gateway"},
		{"429 with seconds", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			scimErr(w, http.StatusTooManyRequests, "", "slow down")
		}, true, 7 * time.Second, "429 Too Many Requests: slow down"},
		{"answer not JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "<html>login page</html>")
		}, false, 0, "decode application/scim+json answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := fake(t, tc.h)
			c.now = func() time.Time { return time.Date(1994, 11, 6, 8, 49, 7, 0, time.UTC) }
			_, err := c.Disable(context.Background(), account.Account{NativeID: "1", UserName: "ann"})
			if err == nil {
				t.Fatal("Disable succeeded")
			}
			var re *connector.RetryableError
			if errors.As(err, &re) != tc.retryable || (re != nil && re.After != tc.after) {
				t.Errorf("Disable = %#v, want retryable=%t after %s", err, tc.retryable, tc.after)
			}
			if !strings.HasPrefix(err.Error(), "disable ann: scim: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %q", err)
			}
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, err := New(Config{URL: srv.URL, Token: testToken, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(context.Background(), account.Account{NativeID: "1"}); !connector.IsRetryable(err) {
		t.Errorf("Delete on a hung server = %v, want retryable", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Delete(ctx, account.Account{NativeID: "1"}); err == nil || connector.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context = %v, want context.Canceled, not retryable", err)
	}
}

func TestDisableNotApplied(t *testing.T) {
	t.Parallel()
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": "1", "userName": "ann", "active": true})
	})
	_, err := c.Disable(context.Background(), account.Account{NativeID: "1", UserName: "ann"})
	if err == nil || !strings.Contains(err.Error(), "still reports active=true") {
		t.Errorf("Disable on a server that ignores the PATCH = %v", err)
	}
}

func TestDisableWithoutNativeID(t *testing.T) {
	t.Parallel()
	c := fake(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("request sent: %s", r.URL) })
	for name, fn := range map[string]func(context.Context, account.Account) (connector.Result, error){
		"disable": c.Disable, "enable": c.Enable, "delete": c.Delete, "revoke": c.Revoke,
	} {
		if _, err := fn(context.Background(), account.Account{UserName: "ann"}); err == nil || !strings.Contains(err.Error(), "no native id") {
			t.Errorf("%s without a native id = %v", name, err)
		}
	}
}

// A server without member filters, whose remove of a non-member answers
// noTarget, as RFC 7644 allows.
func TestRevokeWithoutFilterSupport(t *testing.T) {
	t.Parallel()
	var patched []string
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Has("filter"):
			scimErr(w, http.StatusBadRequest, "invalidFilter", "filters not supported")
		case r.Method == http.MethodGet:
			page(w, r, []map[string]any{
				{"id": "g1", "displayName": "eng", "members": []any{map[string]any{"value": "u1"}}},
				{"id": "g2", "displayName": "ops", "members": []any{map[string]any{"value": "u2"}}},
				{"id": "g3", "displayName": "gone", "members": []any{map[string]any{"value": "u1"}}},
				{"id": "g4", "displayName": "raced", "members": []any{map[string]any{"value": "u1"}}},
				{"id": "g5", "displayName": "empty"},
			}, 2, true)
		case r.Method == http.MethodPatch:
			var body patchOp
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Operations) != 1 ||
				body.Operations[0].Op != "remove" || body.Operations[0].Path != `members[value eq "u1"]` {
				t.Errorf("PATCH body = %+v, %v", body, err)
			}
			patched = append(patched, r.URL.Path)
			switch r.URL.Path {
			case "/scim/v2/Groups/g3":
				scimErr(w, http.StatusNotFound, "", "no such group")
			case "/scim/v2/Groups/g4":
				scimErr(w, http.StatusBadRequest, "noTarget", "no member matched")
			default:
				w.WriteHeader(http.StatusNoContent)
			}
		}
	})
	res, err := c.Revoke(context.Background(), account.Account{NativeID: "u1", UserName: "ann"})
	if err != nil || res.AlreadyDone || res.Detail != "removed from 1 group(s): eng" {
		t.Errorf("Revoke = %+v, %v", res, err)
	}
	if want := []string{"/scim/v2/Groups/g1", "/scim/v2/Groups/g3", "/scim/v2/Groups/g4"}; !slices.Equal(patched, want) {
		t.Errorf("patched %v, want %v", patched, want)
	}
}

func TestRevokePartialFailure(t *testing.T) {
	t.Parallel()
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet:
			page(w, r, []map[string]any{
				{"id": "g1", "displayName": "eng", "members": []any{map[string]any{"value": "u1"}}},
				{"id": "g2", "displayName": "ops", "members": []any{map[string]any{"value": "u1"}}},
			}, 10, true)
		case r.URL.Path == "/scim/v2/Groups/g2":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	_, err := c.Revoke(context.Background(), account.Account{NativeID: "u1", UserName: "ann"})
	var re *connector.RetryableError
	if !errors.As(err, &re) || re.After != 3*time.Second || !strings.Contains(err.Error(), "after removal from eng") {
		t.Errorf("Revoke = %v, want retryable after 3s naming eng", err)
	}
}

func TestRevokeWithoutGroupsEndpoint(t *testing.T) {
	t.Parallel()
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		scimErr(w, http.StatusNotFound, "", "Endpoint Not Found")
	})
	_, err := c.Revoke(context.Background(), account.Account{NativeID: "u1", UserName: "ann"})
	if !errors.Is(err, connector.ErrUnsupported) {
		t.Errorf("Revoke = %v, want ErrUnsupported", err)
	}
}
