package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/deprov/deprov/store"
)

// public marks a route that needs no authentication.
const public store.Role = "public"

// authzMatrix is the least role of every route. A route that is registered
// without an entry here, or an entry for a route that no longer exists,
// fails TestAuthorizationMatrix: adding a route means deciding who may call it.
var authzMatrix = map[string]store.Role{
	"GET /healthz":        public,
	"GET /readyz":         public,
	"GET /openapi.json":   store.RoleAuditor,
	"GET /metrics":        store.RoleAuditor,
	"GET /api/v1/me":      store.RoleAuditor,
	"GET /api/v1/config":  store.RoleAuditor,
	"POST /api/v1/config": store.RoleAdmin,

	"GET /api/v1/applications":                     store.RoleAuditor,
	"GET /api/v1/applications/{id}":                store.RoleAuditor,
	"PUT /api/v1/applications/{id}":                store.RoleAdmin,
	"DELETE /api/v1/applications/{id}":             store.RoleAdmin,
	"POST /api/v1/applications/{id}/aggregate":     store.RoleOperator,
	"GET /api/v1/sources":                          store.RoleAuditor,
	"GET /api/v1/sources/{id}":                     store.RoleAuditor,
	"PUT /api/v1/sources/{id}":                     store.RoleAdmin,
	"DELETE /api/v1/sources/{id}":                  store.RoleAdmin,
	"POST /api/v1/sources/{id}/sync":               store.RoleOperator,
	"GET /api/v1/rules":                            store.RoleAuditor,
	"GET /api/v1/rules/{id}":                       store.RoleAuditor,
	"PUT /api/v1/rules/{id}":                       store.RoleAdmin,
	"DELETE /api/v1/rules/{id}":                    store.RoleAdmin,
	"POST /api/v1/rules/{id}/run":                  store.RoleOperator,
	"POST /api/v1/rules/check-cel":                 store.RoleAuditor,
	"GET /api/v1/schedule/preview":                 store.RoleAuditor,
	"GET /api/v1/identities":                       store.RoleAuditor,
	"GET /api/v1/identities/{source}/{externalId}": store.RoleAuditor,
	"GET /api/v1/accounts":                         store.RoleAuditor,

	"GET /api/v1/runs":               store.RoleAuditor,
	"GET /api/v1/runs/{id}":          store.RoleAuditor,
	"POST /api/v1/runs/{id}/approve": store.RoleOperator,
	"POST /api/v1/runs/{id}/reject":  store.RoleOperator,
	"POST /api/v1/runs/{id}/undo":    store.RoleOperator,

	"GET /api/v1/revocations":                store.RoleAuditor,
	"GET /api/v1/revocations/{id}":           store.RoleAuditor,
	"POST /api/v1/revocations/{id}/cancel":   store.RoleOperator,
	"POST /api/v1/revocations/{id}/complete": store.RoleOperator,
	"POST /api/v1/revocations/{id}/reject":   store.RoleOperator,
	"POST /api/v1/revocations/{id}/retry":    store.RoleOperator,

	"GET /api/v1/held-syncs":               store.RoleAuditor,
	"GET /api/v1/held-syncs/{id}":          store.RoleAuditor,
	"POST /api/v1/held-syncs/{id}/approve": store.RoleOperator,
	"POST /api/v1/held-syncs/{id}/reject":  store.RoleOperator,

	"GET /api/v1/audit":        store.RoleAuditor,
	"GET /api/v1/audit/verify": store.RoleAuditor,
	"GET /api/v1/audit/export": store.RoleAuditor,

	"GET /api/v1/tokens":         store.RoleAdmin,
	"POST /api/v1/tokens":        store.RoleAdmin,
	"DELETE /api/v1/tokens/{id}": store.RoleAdmin,
}

// routes lists every route the API serves, from the OpenAPI document huma
// generates from the registered operations, and the routes served beside it.
func routes(t *testing.T, a *API) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(a.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	for _, p := range a.plain {
		out = append(out, p.Method+" "+p.Path)
	}
	slices.Sort(out)
	return out
}

// TestAuthorizationMatrix calls every route as nobody, auditor, operator
// and admin: no token is 401, a lesser role 403, and an allowed role gets
// past authorization (any status but 401, 403 and 5xx; ids that do not
// exist give 404, empty bodies 422).
func TestAuthorizationMatrix(t *testing.T) {
	b := setup(t)
	b.seed(t)
	registered := routes(t, b.a)
	for _, r := range registered {
		if _, ok := authzMatrix[r]; !ok {
			t.Errorf("route %s has no entry in authzMatrix: decide which role may call it", r)
		}
	}
	for r := range authzMatrix {
		if !slices.Contains(registered, r) {
			t.Errorf("authzMatrix names %s, which is not a registered route", r)
		}
	}
	callers := []struct {
		name  string
		role  store.Role
		token string
	}{
		{"nobody", "", ""},
		{"auditor", store.RoleAuditor, b.tok[store.RoleAuditor]},
		{"operator", store.RoleOperator, b.tok[store.RoleOperator]},
		{"admin", store.RoleAdmin, b.tok[store.RoleAdmin]},
	}
	for _, route := range registered {
		need, ok := authzMatrix[route]
		if !ok {
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		// Ids that exist nowhere: the call passes authorization and stops at 404.
		path = strings.NewReplacer("{id}", "999999", "{source}", "hr", "{externalId}", "nobody").Replace(path)
		body := ""
		if method == http.MethodPost || method == http.MethodPut {
			body = "{}"
		}
		if route == "POST /api/v1/config" {
			path += "?dryRun=true" // an empty configuration applied for real would empty the store
		}
		for _, c := range callers {
			t.Run(route+" as "+c.name, func(t *testing.T) {
				res := b.do(t, method, path, c.token, body)
				switch {
				case need == public:
					if res.status != http.StatusOK {
						t.Errorf("status %d, want 200: %s", res.status, res.body)
					}
				case c.role == "":
					wantProblem(t, res, http.StatusUnauthorized)
					if res.header.Get("WWW-Authenticate") == "" {
						t.Error("401 without WWW-Authenticate")
					}
				case rank(c.role) < rank(need):
					wantProblem(t, res, http.StatusForbidden)
				default:
					if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden || res.status >= 500 {
						t.Errorf("status %d for role %s (route needs %s): %s", res.status, c.role, need, res.body)
					}
				}
			})
		}
	}
}

// TestOperationsDeclareTheirRole checks the document tells clients the
// role each operation needs, and that it is the one the matrix expects.
func TestOperationsDeclareTheirRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Role     string                `json:"x-deprov-role"`
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b.a.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			route := strings.ToUpper(method) + " " + path
			if want := authzMatrix[route]; op.Role != string(want) {
				t.Errorf("%s: x-deprov-role %q, matrix says %q", route, op.Role, want)
			}
			if len(op.Security) == 0 {
				t.Errorf("%s: no security requirement", route)
			}
		}
	}
}
