package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/deprov/deprov/store"
)

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodGet, "/openapi.json", b.tok[store.RoleAuditor], "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", r.status, r.body)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title, Version string
		} `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	if doc.Info.Title != "deprov" || doc.Info.Version != "test" {
		t.Errorf("info %+v", doc.Info)
	}
	for _, s := range []string{"bearer", "session"} {
		if _, ok := doc.Components.SecuritySchemes[s]; !ok {
			t.Errorf("no %s security scheme", s)
		}
	}
	// Every /api/v1 route the API answers (the matrix lists them, and
	// TestAuthorizationMatrix proves it lists all of them) is documented.
	n := 0
	for route := range authzMatrix {
		method, path, _ := strings.Cut(route, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		n++
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is not in the OpenAPI document", route)
		}
		// And it really is served: a request reaches an operation, not the 404 fallback.
		probe := strings.NewReplacer("{id}", "1", "{source}", "hr", "{externalId}", "1").Replace(path)
		res := b.do(t, method, probe, "", "")
		if res.status != http.StatusUnauthorized {
			t.Errorf("%s %s answered %d without a token, want 401 (is it routed?)", method, probe, res.status)
		}
	}
	if n < 40 {
		t.Errorf("only %d /api/v1 routes", n)
	}
	for _, name := range []string{"RuleView", "Run", "Revocation", "Identity", "Event", "ErrorModel"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}
	// The rule schema documents the fields the console edits.
	var rule struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["RuleView"], &rule); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "trigger", "scope", "excludeApplications", "gracePeriodDays", "action", "processAllocationSize", "schedule", "safety", "nextFireAt"} {
		if _, ok := rule.Properties[f]; !ok {
			t.Errorf("RuleView lacks %s", f)
		}
	}
}
