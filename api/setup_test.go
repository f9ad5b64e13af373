package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/sandbox"
	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/internal/testkit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"

	_ "github.com/deprov/deprov/connector/scim"    // the scim application type
	_ "github.com/deprov/deprov/connector/webhook" // and webhook, whose headers are a map of secrets
)

// Secrets the tests look for in every response.
const (
	adminSecret = "dpv_test-admin-secret-7f3a91c2e4b8"
	litSecret   = "literal-scim-token-5b1c7e20"
	envSecret   = "env-scim-token-9d2f4a61"
	srcSecret   = "scim-source-push-token-3e8a1f"
	envName     = "DEPROV_API_TEST_GITLAB_TOKEN"
	hookSecret  = "webhook-hmac-key-4c9e21d0"
	hdrSecret   = "webhook-header-api-key-b7d3"
	hdrEnvName  = "DEPROV_API_TEST_HOOK_HEADER"
	hdrEnvValue = "webhook-env-header-value-e18f"
)

// clock is a clock the test moves by hand.
type clock = testkit.Clock

// syncBuffer collects output written from several goroutines.
type syncBuffer = testkit.Buffer

// bundle is a running API over a real SQLite store and engine.
type bundle struct {
	ctx   context.Context
	dir   string
	st    *sqlite.Store
	e     *engine.Engine
	a     *API
	srv   *httptest.Server
	clock *clock
	logs  *syncBuffer
	// tok holds a bearer secret per role.
	tok map[store.Role]string
	// runID and revIDs exist after seed.
	runID  int64
	revIDs []int64
}

// setup starts an API whose admin token is adminSecret, with an operator
// and an auditor token; opts adjust its options.
func setup(t *testing.T, opts ...func(*Options)) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), dir: t.TempDir(), logs: &syncBuffer{},
		clock: &clock{T: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}}
	b.st = testdb.SQLite(t, b.dir, b.clock.Now)
	e, err := engine.New(engine.Options{Store: b.st, Now: b.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	b.e = e
	o := Options{
		Engine: e, Version: "test", BootstrapToken: adminSecret, Now: b.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range opts {
		f(&o)
	}
	if b.a, err = New(o); err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(b.a.Handler())
	t.Cleanup(b.srv.Close)
	b.tok = map[store.Role]string{store.RoleAdmin: adminSecret}
	for _, r := range []store.Role{store.RoleOperator, store.RoleAuditor} {
		ct, err := CreateToken(b.ctx, b.st, "test-"+string(r), r, "cli:test")
		if err != nil {
			t.Fatal(err)
		}
		b.tok[r] = ct.Secret
	}
	return b
}

// seed configures two sandbox SCIM applications (one with a literal token,
// one with an ${env:…} reference), a csv and a scim source and a rule, then
// syncs, aggregates and runs the rule, so that there is a run with two
// scheduled revocations.
func (b *bundle) seed(t *testing.T) {
	t.Helper()
	t.Setenv(envName, envSecret)
	t.Setenv(hdrEnvName, hdrEnvValue)
	github := sandbox.New(litSecret, nil)
	github.Seed("alice", "Alice", "alice@example.com")
	github.Seed("bob", "Bob", "bob@example.com")
	gitlab := sandbox.New(envSecret, nil)
	gitlab.Seed("carol", "Carol", "carol@example.com")
	gh, gl := httptest.NewServer(github), httptest.NewServer(gitlab)
	t.Cleanup(gh.Close)
	t.Cleanup(gl.Close)
	csv := "employee_id,login,status\n1,alice,ACTIVE\n2,bob,TERMINATED\n3,carol,TERMINATED\n"
	if err := os.WriteFile(filepath.Join(b.dir, "hr.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	y := `
applications:
  - id: github
    connector: {type: scim, url: "` + gh.URL + `", token: "` + litSecret + `"}
  - id: gitlab
    connector: {type: scim, url: "` + gl.URL + `", token: "${env:` + envName + `}"}
  - id: hooks
    connector:
      type: webhook
      url: https://hooks.example.com/deprov
      secret: "` + hookSecret + `"
      headers: {X-Api-Key: "` + hdrSecret + `", X-Other: "${env:` + hdrEnvName + `}"}
sources:
  - id: hr
    type: csv
    path: ` + filepath.Join(b.dir, "hr.csv") + `
    columns: {externalId: employee_id, userName: login, status: status}
  - id: idp
    type: scim
    token: "` + srcSecret + `"
rules:
  - id: leavers
    name: Leavers
    trigger: {statuses: [TERMINATED]}
    excludeApplications: [{application: hooks, reason: "notified by hand"}]
    schedule: {cron: "0 0 2 * * ?", timezone: Europe/Berlin, active: true}
`
	cfg, err := config.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Apply(b.ctx, cfg, "cli:test", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Sync(b.ctx, "hr", "cli:test"); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"github", "gitlab"} {
		if _, err := b.e.Aggregate(b.ctx, app, "cli:test"); err != nil {
			t.Fatal(err)
		}
	}
	run, err := b.e.Run(b.ctx, "leavers", engine.RunOptions{Actor: "cli:test"})
	if err != nil {
		t.Fatal(err)
	}
	b.runID = run.ID
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{RunID: run.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 {
		t.Fatalf("seed: want 2 revocations, got %d", len(revs))
	}
	for _, r := range revs {
		b.revIDs = append(b.revIDs, r.ID)
	}
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.body)
	}
}

// do sends a request with a bearer token (none when "") and a body (none when "").
func (b *bundle) do(t *testing.T, method, path, token, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(b.ctx, method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// problem is an RFC 9457 body as huma writes it.
type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

// wantProblem checks that r is a problem+json of status and returns it.
func wantProblem(t *testing.T, r response, status int) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, r.body)
	}
	var p problem
	r.json(t, &p)
	if p.Status != status {
		t.Errorf("problem status %d, want %d", p.Status, status)
	}
	return p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
