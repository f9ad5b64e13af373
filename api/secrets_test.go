package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/deprov/deprov/store"
)

// TestSecretsNeverInResponses configures literal and ${env:…} secrets and
// searches every response for their values: every GET route, the answers
// of writes, and error answers (validation, a failing target).
func TestSecretsNeverInResponses(t *testing.T) {
	b := setup(t)
	b.seed(t)
	// An application whose target refuses the token: its error must not carry it.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusUnauthorized)
		// A careless target echoes what it got.
		_, _ = w.Write([]byte(`{"detail":"bad token ` + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + `"}`))
	}))
	t.Cleanup(refusing.Close)
	const refusedSecret = "refused-literal-token-77c0ab"
	put := b.do(t, http.MethodPut, "/api/v1/applications/refusing", adminSecret,
		`{"connector":{"type":"scim","url":"`+refusing.URL+`","token":"`+refusedSecret+`"}}`)
	if put.status != http.StatusOK {
		t.Fatalf("put application: %d %s", put.status, put.body)
	}
	secrets := []string{litSecret, envSecret, srcSecret, refusedSecret, hookSecret, hdrSecret, hdrEnvValue}
	var seen []string
	check := func(what string, r response) {
		t.Helper()
		seen = append(seen, what)
		for _, s := range secrets {
			if strings.Contains(string(r.body), s) {
				t.Errorf("%s: the response (%d) contains the secret %q: %s", what, r.status, s, r.body)
			}
		}
		for k, vs := range r.header {
			for _, v := range vs {
				for _, s := range secrets {
					if strings.Contains(v, s) {
						t.Errorf("%s: header %s contains the secret %q", what, k, s)
					}
				}
			}
		}
	}
	check("PUT application", put)

	// Every GET route, with ids that exist.
	ids := map[string]string{
		"/api/v1/applications/{id}": "github", "/api/v1/sources/{id}": "idp", "/api/v1/rules/{id}": "leavers",
		"/api/v1/runs/{id}": strconv.FormatInt(b.runID, 10), "/api/v1/revocations/{id}": strconv.FormatInt(b.revIDs[0], 10),
		"/api/v1/held-syncs/{id}": "1",
	}
	queries := map[string]string{
		"/api/v1/schedule/preview": "?cron=0+0+2+*+*+%3F&timezone=Europe/Berlin",
		"/api/v1/audit/export":     "?format=json",
	}
	for _, route := range routes(t, b.a) {
		method, path, _ := strings.Cut(route, " ")
		if method != http.MethodGet {
			continue
		}
		full := path
		if id, ok := ids[path]; ok {
			full = strings.Replace(path, "{id}", id, 1)
		}
		full = strings.NewReplacer("{source}", "hr", "{externalId}", "2").Replace(full) + queries[path]
		for _, tok := range []string{adminSecret, b.tok[store.RoleAuditor]} {
			r := b.do(t, method, full, tok, "")
			if r.status >= 500 {
				t.Errorf("GET %s: %d %s", full, r.status, r.body)
			}
			check("GET "+full, r)
		}
	}
	for _, app := range []string{"github", "gitlab"} {
		r := b.do(t, http.MethodGet, "/api/v1/applications/"+app, adminSecret, "")
		if !strings.Contains(string(r.body), "token") {
			t.Errorf("application %s shows no token setting at all: %s", app, r.body)
		}
	}

	// Writes that send the redacted configuration back keep the stored secrets.
	cfgRes := b.do(t, http.MethodGet, "/api/v1/config", adminSecret, "")
	var view ConfigView
	cfgRes.json(t, &view)
	whole, err := json.Marshal(view.Config)
	if err != nil {
		t.Fatal(err)
	}
	check("POST config (dry run)", b.do(t, http.MethodPost, "/api/v1/config?dryRun=true", adminSecret, string(whole)))
	r := b.do(t, http.MethodPost, "/api/v1/config", adminSecret, string(whole))
	check("POST config", r)
	if r.status != http.StatusOK {
		t.Fatalf("re-applying the redacted configuration: %d %s", r.status, r.body)
	}
	stored, _, err := b.st.Config(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if app, _ := stored.Application("github"); app.Connector.Settings["token"] != litSecret {
		t.Errorf("re-applying the redacted configuration lost github's token: %v", app.Connector.Settings["token"])
	}
	if app, _ := stored.Application("hooks"); app.Connector.Settings["secret"] != hookSecret ||
		app.Connector.Settings["headers"].(map[string]any)["X-Api-Key"] != hdrSecret ||
		app.Connector.Settings["headers"].(map[string]any)["X-Other"] != "${env:"+hdrEnvName+"}" {
		t.Errorf("re-applying the redacted configuration changed the webhook's secrets: %v", app.Connector.Settings)
	}
	if src, _ := stored.Source("idp"); src.Token != srcSecret {
		t.Errorf("re-applying the redacted configuration lost idp's token")
	}
	check("PUT source with <redacted>", b.do(t, http.MethodPut, "/api/v1/sources/idp", adminSecret,
		`{"type":"scim","token":"<redacted>","name":"IdP"}`))

	// Errors: a misspelt key next to a secret (huma would echo the object),
	// a placeholder with nothing behind it, a config problem, a refusing target.
	typo := b.do(t, http.MethodPut, "/api/v1/sources/idp", adminSecret, `{"type":"scim","token":"`+srcSecret+`","tokne":"x"}`)
	wantProblem(t, typo, http.StatusUnprocessableEntity)
	check("PUT source with a misspelt key", typo)
	bad := b.do(t, http.MethodPut, "/api/v1/applications/github", adminSecret,
		`{"connector":{"type":"scim","url":"not a url","token":"`+litSecret+`","pageSize":5000}}`)
	wantProblem(t, bad, http.StatusUnprocessableEntity)
	check("PUT invalid application", bad)
	placeholder := b.do(t, http.MethodPut, "/api/v1/applications/newapp", adminSecret,
		`{"connector":{"type":"scim","url":"https://x.example.com/scim/v2","token":"<redacted>"}}`)
	p := wantProblem(t, placeholder, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Location != "body.connector.token" {
		t.Errorf("placeholder without a stored secret: %s", placeholder.body)
	}
	agg := b.do(t, http.MethodPost, "/api/v1/applications/refusing/aggregate", b.tok[store.RoleOperator], "")
	wantProblem(t, agg, http.StatusBadGateway)
	check("aggregate a refusing target", agg)
	for _, app := range []string{"github", "gitlab"} {
		check("aggregate "+app, b.do(t, http.MethodPost, "/api/v1/applications/"+app+"/aggregate", b.tok[store.RoleOperator], ""))
	}
	check("dry run", b.do(t, http.MethodPost, "/api/v1/rules/leavers/run", b.tok[store.RoleOperator], `{"dryRun":true}`))
	check("audit after all that", b.do(t, http.MethodGet, "/api/v1/audit?limit=1000", b.tok[store.RoleAuditor], ""))
	check("audit export after all that", b.do(t, http.MethodGet, "/api/v1/audit/export?format=csv", b.tok[store.RoleAuditor], ""))

	// Nor in the logs, with the bearer tokens used.
	logs := b.logs.String()
	for _, s := range append(secrets, adminSecret, b.tok[store.RoleOperator], b.tok[store.RoleAuditor]) {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains the secret %q", s)
		}
	}
	if strings.Contains(strings.ToLower(logs), "authorization") {
		t.Error("the log mentions an Authorization header")
	}
	if len(seen) < 20 {
		t.Errorf("only %d responses checked", len(seen))
	}
}
