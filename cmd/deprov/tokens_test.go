package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"
)

// TestTokens: create prints a token's secret once, list never does, and
// revoke stops the token working.
func TestTokens(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := cli(t, dir, "tokens", "create", "--role", "operator", "--name", "ci")
	if code != 0 {
		t.Fatalf("tokens create: exit %d\n%s", code, errs)
	}
	m := regexp.MustCompile(`operator token "ci" \(id (\d+)\) created\. Its secret, shown this once:\n\n  (dpv_\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tokens create printed:\n%s", out)
	}
	id, secret := m[1], m[2]
	if !strings.Contains(out, "Authorization: Bearer "+secret) {
		t.Errorf("tokens create does not say how to use the secret:\n%s", out)
	}

	code, out, errs = cli(t, dir, "tokens", "create", "--role", "auditor", "--name", "dashboards", "-o", "json")
	if code != 0 {
		t.Fatalf("tokens create -o json: exit %d\n%s", code, errs)
	}
	var created api.CreatedToken
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("tokens create -o json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(created.Secret, "dpv_") || created.Secret == secret || created.Token.Name != "dashboards" || created.Token.Role != store.RoleAuditor {
		t.Errorf("tokens create -o json: %+v", created)
	}
	if code, _, errs := cli(t, dir, "tokens", "create", "--role", "root"); code != 2 || !strings.Contains(errs, `--role "root"`) {
		t.Errorf("tokens create --role root: exit %d\n%s", code, errs)
	}

	list := func() (table string, tokens []store.Token) {
		t.Helper()
		code, table, errs := cli(t, dir, "tokens", "list")
		if code != 0 {
			t.Fatalf("tokens list: exit %d\n%s", code, errs)
		}
		code, js, errs := cli(t, dir, "tokens", "list", "-o", "json")
		if code != 0 {
			t.Fatalf("tokens list -o json: exit %d\n%s", code, errs)
		}
		for _, s := range []string{secret, created.Secret, "dpv_"} {
			if strings.Contains(table+js, s) {
				t.Fatalf("tokens list printed a secret (%.8s…):\n%s\n%s", s, table, js)
			}
		}
		if err := json.Unmarshal([]byte(js), &tokens); err != nil {
			t.Fatalf("tokens list -o json: %v\n%s", err, js)
		}
		return table, tokens
	}
	table, tokens := list()
	if len(tokens) != 2 || !hasRow(table, id, "ci", "operator", "active") || !hasRow(table, strconv.FormatInt(created.Token.ID, 10), "dashboards", "auditor", "active") {
		t.Fatalf("tokens list:\n%s", table)
	}
	if got := authenticate(t, dir, secret); got != http.StatusOK {
		t.Fatalf("the new operator token: GET /api/v1/rules answered %d, want 200", got)
	}

	code, out, errs = cli(t, dir, "tokens", "revoke", id)
	if code != 0 || out != "token "+id+" (ci, operator) revoked\n" {
		t.Fatalf("tokens revoke %s: exit %d\n%s%s", id, code, out, errs)
	}
	table, tokens = list()
	if len(tokens) != 2 || !hasRow(table, id, "ci", "operator", "revoked") || !hasRow(table, strconv.FormatInt(created.Token.ID, 10), "dashboards", "auditor", "active") {
		t.Fatalf("tokens list after revoking %s:\n%s", id, table)
	}
	if got := authenticate(t, dir, secret); got != http.StatusUnauthorized {
		t.Errorf("the revoked token: GET /api/v1/rules answered %d, want 401", got)
	}
	if got := authenticate(t, dir, created.Secret); got != http.StatusOK {
		t.Errorf("the other token after the revocation: GET /api/v1/rules answered %d, want 200", got)
	}
	if code, _, errs := cli(t, dir, "tokens", "revoke", id); code != 2 || !strings.Contains(errs, "token "+id+" is already revoked") {
		t.Errorf("revoking again: exit %d\n%s", code, errs)
	}
	if code, _, errs := cli(t, dir, "tokens", "revoke", "99"); code != 2 || !strings.Contains(errs, "unknown token 99") {
		t.Errorf("revoking an unknown token: exit %d\n%s", code, errs)
	}
}

// hasRow reports whether a line of table starts with id and name and holds
// every other word.
func hasRow(table, id, name string, words ...string) bool {
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != id || f[1] != name {
			continue
		}
		for _, w := range words {
			if !strings.Contains(l, " "+w+" ") && !strings.HasSuffix(l, " "+w) {
				return false
			}
		}
		return true
	}
	return false
}

// authenticate asks the API on the database in dir for the rules with
// the bearer token secret and returns the status.
func authenticate(t *testing.T, dir, secret string) int {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "deprov.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	e, err := engine.New(engine.Options{Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, err := api.New(api.Options{Engine: e, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/api/v1/rules", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	return rec.Code
}
