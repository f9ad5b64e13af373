package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/store"
)

var firstToken = regexp.MustCompile(`first admin token \(shown once\): (dpv_[A-Za-z0-9_-]+)`)

// start builds an API on an existing store, logging into logs.
func start(t *testing.T, st store.Store, logs *syncBuffer, bootstrap string) (*API, error) {
	t.Helper()
	e, err := engine.New(engine.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return New(Options{Engine: e, BootstrapToken: bootstrap, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
}

func me(t *testing.T, a *API, secret string) (int, Principal) {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p Principal
	_ = decodeJSON(res, &p)
	return res.StatusCode, p
}

func TestFirstStartPrintsAnAdminTokenOnce(t *testing.T) {
	t.Parallel()
	st := testdb.SQLite(t, t.TempDir(), nil)
	logs := &syncBuffer{}
	a, err := start(t, st, logs, "")
	if err != nil {
		t.Fatal(err)
	}
	m := firstToken.FindAllStringSubmatch(logs.String(), -1)
	if len(m) != 1 {
		t.Fatalf("want the first admin token logged once, got %d in:\n%s", len(m), logs)
	}
	secret := m[0][1]
	if !strings.Contains(logs.String(), `"level":"WARN"`) {
		t.Errorf("the first admin token is not logged at warn level:\n%s", logs)
	}
	if len(secret) < 40 {
		t.Errorf("token %q looks short", secret)
	}
	if code, p := me(t, a, secret); code != http.StatusOK || p.Role != store.RoleAdmin {
		t.Fatalf("the printed token: %d %+v", code, p)
	}
	ts, err := st.ListTokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Hash != HashToken(secret) {
		t.Errorf("stored tokens %+v: want one, stored by its hash only", ts)
	}

	// A second start (or a second node) prints nothing.
	logs2 := &syncBuffer{}
	if _, err := start(t, st, logs2, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs2.String(), "first admin token") || strings.Contains(logs2.String(), "dpv_") {
		t.Errorf("second start logged a token:\n%s", logs2)
	}
}

func TestBootstrapTokenFromEnvironment(t *testing.T) {
	t.Parallel()
	const secret = "dpv_from-the-environment-0123456789"
	st := testdb.SQLite(t, t.TempDir(), nil)
	logs := &syncBuffer{}
	a, err := start(t, st, logs, secret)
	if err != nil {
		t.Fatal(err)
	}
	if code, p := me(t, a, secret); code != http.StatusOK || p.Role != store.RoleAdmin || p.Name != "bootstrap-admin" {
		t.Fatalf("DEPROV_ADMIN_TOKEN: %d %+v", code, p)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "first admin token") {
		t.Errorf("logs:\n%s", logs)
	}
	// Restarting with the same variable changes nothing; another value is
	// ignored once an admin exists.
	if _, err := start(t, st, &syncBuffer{}, secret); err != nil {
		t.Fatal(err)
	}
	logs3 := &syncBuffer{}
	a3, err := start(t, st, logs3, "dpv_another-value-0123456789abc")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := me(t, a3, "dpv_another-value-0123456789abc"); code != http.StatusUnauthorized {
		t.Errorf("a second DEPROV_ADMIN_TOKEN was accepted: %d", code)
	}
	if !strings.Contains(logs3.String(), "ignored") {
		t.Errorf("no warning that the variable was ignored:\n%s", logs3)
	}
	ts, _ := st.ListTokens(t.Context())
	if len(ts) != 1 {
		t.Errorf("%d tokens, want 1", len(ts))
	}
	// Too short a secret is refused outright.
	if _, err := start(t, testdb.SQLite(t, t.TempDir(), nil), &syncBuffer{}, "short"); err == nil {
		t.Error("a 5-character DEPROV_ADMIN_TOKEN was accepted")
	}
}

func TestTokenCreatedByAPIWorks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodPost, "/api/v1/tokens", adminSecret, `{"name":"ci-bot","role":"operator"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var ct CreatedToken
	r.json(t, &ct)
	if !strings.HasPrefix(ct.Secret, TokenPrefix) || ct.Token.Role != store.RoleOperator || ct.Token.CreatedBy != "token:bootstrap-admin" {
		t.Fatalf("created %+v", ct)
	}
	var p Principal
	res := b.do(t, http.MethodGet, "/api/v1/me", ct.Secret, "")
	res.json(t, &p)
	if p.Name != "ci-bot" {
		t.Errorf("me = %+v", p)
	}
	list := b.do(t, http.MethodGet, "/api/v1/tokens", adminSecret, "")
	if strings.Contains(string(list.body), ct.Secret) || strings.Contains(string(list.body), HashToken(ct.Secret)) {
		t.Error("the token list shows a secret or its hash")
	}
	// Use is recorded, at most once a minute.
	ts, _ := b.st.ListTokens(b.ctx)
	for _, tk := range ts {
		if tk.Name == "ci-bot" && tk.LastUsed.IsZero() {
			t.Error("use of the token not recorded")
		}
	}
}
