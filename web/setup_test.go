package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/sandbox"
	"github.com/deprov/deprov/internal/testkit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"

	_ "github.com/deprov/deprov/connector/manual" // the legacy-erp application
	_ "github.com/deprov/deprov/connector/scim"   // the sandbox applications
)

// adminSecret is the bootstrap admin token of every test console.
const adminSecret = "dpv_web-test-admin-secret-0c41e9d2"

// sandboxSecret is the sandbox applications' token, a literal secret of
// the configuration that no page may show.
const sandboxSecret = "sandbox-token-3f1a9c77e2"

// t0 is the engine's "now" in the tests: a Thursday morning.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// clock is a clock the test moves by hand.
type clock = testkit.Clock

// bundle is a console over a real SQLite store, engine and API, served on
// loopback the way `deprov serve` mounts them.
type bundle struct {
	ctx   context.Context
	dir   string
	st    *sqlite.Store
	e     *engine.Engine
	a     *api.API
	c     *Console
	srv   *httptest.Server
	clock *clock
	// tok holds a bearer secret per role.
	tok map[store.Role]string
	// Set by seed.
	quarantined int64
	failedRev   int64
}

// setup starts a console with an admin, an operator and an auditor token.
// The engine runs on a fake clock (no workers: revocations stay where the
// test puts them); sessions use the real clock, as a browser does.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), dir: t.TempDir(), clock: &clock{T: t0}}
	st, err := sqlite.Open(filepath.Join(b.dir, "deprov.db"), sqlite.Options{Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.st = st
	quiet := slog.New(slog.DiscardHandler)
	if b.e, err = engine.New(engine.Options{Store: st, Now: b.clock.Now, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.e.Close)
	if b.a, err = api.New(api.Options{Engine: b.e, Logger: quiet, Version: "test", BootstrapToken: adminSecret}); err != nil {
		t.Fatal(err)
	}
	if b.c, err = New(Options{API: b.a, Engine: b.e, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(mount(b.a, b.c))
	t.Cleanup(b.srv.Close)
	b.tok = map[store.Role]string{store.RoleAdmin: adminSecret}
	for _, r := range []store.Role{store.RoleOperator, store.RoleAuditor} {
		ct, err := api.CreateToken(b.ctx, st, "web-"+string(r), r, "cli:test")
		if err != nil {
			t.Fatal(err)
		}
		b.tok[r] = ct.Secret
	}
	return b
}

// mount serves the API and the console as `deprov serve` does.
func mount(a *api.API, c *Console) http.Handler {
	mux := http.NewServeMux()
	h := a.Handler()
	for _, p := range []string{"/api/", "GET /openapi.json", "GET /metrics", "GET /healthz", "GET /readyz"} {
		mux.Handle(p, h)
	}
	mux.Handle("/", c.Handler())
	return mux
}

// hrCSV is the HR feed of the seed: leavers, contractors past their end
// date, inactive people, a terminated board member and active staff.
const hrCSV = `employee_id,login,name,email,status,end_date,department
1001,alice,Alice Andersen,alice@example.com,ACTIVE,,Engineering
1002,bob,Bob Brennan,bob@example.com,TERMINATED,,Sales
1003,carol,Carol Castillo,carol@example.com,ACTIVE,2026-11-20,Engineering
1004,dave,Dave Dimitrov,dave@example.com,INACTIVE,,Finance
1005,erin,Erin Eriksen,erin@example.com,TERMINATED,,board
1006,frank,Frank Fischer,frank@example.com,TERMINATED,,Support
1007,grace,Grace Gallagher,grace@example.com,ACTIVE,2026-11-22,Marketing
1008,heidi,Heidi Hoffmann,heidi@example.com,INACTIVE,,Engineering
1009,ivan,Ivan Ivanov,ivan@example.com,ACTIVE,,Sales
1010,judy,Judy Jensen,judy@example.com,TERMINATED,,Engineering
`

// seed configures three applications (two sandbox SCIM services and a
// manual one), an HR source and four rules, then runs the rules on the
// fake clock so that revocations sit at different points of grace periods
// of 3, 7 and 14 days, with one of each other state and a quarantined run.
func (b *bundle) seed(t *testing.T) {
	t.Helper()
	token := sandboxSecret
	var urls []string
	for range 2 {
		app := sandbox.New(token, nil)
		ids := map[string]string{}
		for _, u := range strings.Split("alice bob carol dave erin frank grace heidi ivan judy", " ") {
			ids[u] = app.Seed(u, strings.ToUpper(u[:1])+u[1:], u+"@example.com")
		}
		app.AddGroup("engineering", ids["alice"], ids["carol"], ids["heidi"], ids["judy"])
		app.AddGroup("sales", ids["bob"], ids["ivan"])
		srv := httptest.NewServer(app)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	csvPath := filepath.Join(b.dir, "hr.csv")
	if err := os.WriteFile(csvPath, []byte(hrCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	y := `
applications:
  - id: github
    name: GitHub Enterprise
    connector: {type: scim, url: "` + urls[0] + `", token: "` + token + `"}
  - id: slack
    name: Slack
    connector: {type: scim, url: "` + urls[1] + `", token: "` + token + `"}
    action: revoke
  - id: legacy-erp
    name: Legacy ERP
    connector: {type: manual, assignee: it-ops@example.com, instructions: "ERP admin console, Users > Lock"}
sources:
  - id: hr
    name: HR export
    type: csv
    path: ` + csvPath + `
    columns: {externalId: employee_id, userName: login, displayName: name, endDate: end_date}
    guard: {minIdentities: 5}
rules:
  - id: leavers
    name: Leavers
    trigger: {statuses: [TERMINATED]}
    scope: 'user.department != "board"'
    excludeApplications: [{application: legacy-erp, reason: "payroll closes the ERP account"}]
    gracePeriodDays: 7
    schedule: {cron: "0 0 2 * * ?", timezone: Europe/Berlin, active: true}
    safety: {maxUsers: 50}
  - id: contractors
    name: Ended contracts
    trigger: {endDate: {offsetDays: 0}}
    gracePeriodDays: 3
    schedule: {cron: "0 30 6 * * ?", timezone: Europe/Berlin, active: true}
  - id: inactive
    name: Inactive accounts
    trigger: {statuses: [INACTIVE]}
    gracePeriodDays: 14
    action: {default: disable, applications: {slack: revoke}}
    schedule: {cron: "0 0 3 ? * MON-FRI", timezone: UTC}
  - id: mass-exit
    name: Mass exit guard
    trigger: {statuses: [TERMINATED, INACTIVE]}
    safety: {maxUsers: 2}
`
	cfg, err := config.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	ctx := b.ctx
	at := func(d time.Duration) { b.clock.Set(t0.Add(d)) }
	at(-50 * time.Hour)
	if _, err := b.e.Apply(ctx, cfg, "cli:seed", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Sync(ctx, "hr", "cli:seed"); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"github", "slack", "legacy-erp"} {
		if _, err := b.e.Aggregate(ctx, app, "cli:seed"); err != nil {
			t.Fatal(err)
		}
	}
	run := func(rule string) store.Run {
		t.Helper()
		r, err := b.e.Run(ctx, rule, engine.RunOptions{Trigger: "schedule", Actor: "scheduler", FireAt: b.clock.Now().Truncate(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	run("contractors") // due in 3 days: t0 + 22 h
	at(-26 * time.Hour)
	leavers := run("leavers") // due in 7 days: t0 + 6 d - 2 h
	at(-3 * time.Hour)
	b.quarantined = run("mass-exit").ID
	at(0)
	run("inactive") // due in 14 days

	// One revocation of each finished state, and a work item.
	revs, err := b.st.ListRevocations(ctx, store.RevocationQuery{RunID: leavers.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) < 4 {
		t.Fatalf("seed: leavers scheduled %d revocations, want at least 4", len(revs))
	}
	now := t0.Add(-2 * time.Hour)
	msg := "scim: POST https://github.example/scim/v2/Users/123: 503 Service Unavailable (5 attempts)"
	attempts := 5
	fail := store.RevocationUpdate{State: store.Failed, LastError: &msg, Attempts: &attempts, FinishedAt: &now}
	if _, err := b.st.UpdateRevocation(ctx, revs[0].ID, []store.RevocationState{store.Scheduled}, fail,
		auditEvent(revs[0], "revocation.failed", msg)); err != nil {
		t.Fatal(err)
	}
	b.failedRev = revs[0].ID
	result := "account disabled"
	ok := store.RevocationUpdate{State: store.Succeeded, Result: &result, FinishedAt: &now}
	if _, err := b.st.UpdateRevocation(ctx, revs[1].ID, []store.RevocationState{store.Scheduled}, ok,
		auditEvent(revs[1], "revocation.succeeded", result)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Cancel(ctx, revs[2].ID, "rehired: contract renewed", "token:web-operator"); err != nil {
		t.Fatal(err)
	}
	erp, err := b.st.ListRevocations(ctx, store.RevocationQuery{ApplicationID: "legacy-erp", States: []store.RevocationState{store.Scheduled}})
	if err != nil || len(erp) == 0 {
		t.Fatalf("seed: no legacy-erp revocation to turn into a work item (%v)", err)
	}
	if _, err := b.st.UpdateRevocation(ctx, erp[0].ID, []store.RevocationState{store.Scheduled}, store.RevocationUpdate{State: store.Waiting},
		auditEvent(erp[0], "revocation.waiting", "work item for it-ops@example.com")); err != nil {
		t.Fatal(err)
	}
}

// auditEvent is the audit event of a state change the seed makes by hand.
func auditEvent(r store.Revocation, action, msg string) audit.Event {
	return audit.Event{Actor: "worker", Action: action, Message: msg, RuleID: r.RuleID, RunID: r.RunID,
		RevocationID: r.ID, IdentityID: r.IdentityID, ApplicationID: r.ApplicationID}
}

// client is a browser-like HTTP client: a cookie jar and no redirects
// followed, so that tests see each answer.
type client struct {
	b  *bundle
	hc *http.Client
}

func (b *bundle) client(t *testing.T) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &client{b: b, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// login signs the client in with role's token.
func (b *bundle) login(t *testing.T, role store.Role) *client {
	t.Helper()
	c := b.client(t)
	r := c.post(t, "/login", url.Values{"token": {b.tok[role]}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("login as %s: status %d: %s", role, r.status, r.body)
	}
	return c
}

// page is an answer of the console.
type page struct {
	status   int
	body     string
	location string
}

func (c *client) do(t *testing.T, req *http.Request) page {
	t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: res.StatusCode, body: string(data), location: res.Header.Get("Location")}
}

func (c *client) get(t *testing.T, path string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.do(t, req)
}

// post sends a form as the browser would, from the console's own origin.
func (c *client) post(t *testing.T, path string, form url.Values) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.b.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.b.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(t, req)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf reads the CSRF token from a page of the console.
func (c *client) csrf(t *testing.T) string {
	t.Helper()
	p := c.get(t, "/rules")
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field on /rules (status %d)", p.status)
	}
	return m[1]
}

// ruleOf reads a rule from the store.
func (b *bundle) ruleOf(t *testing.T, id string) (config.Rule, bool) {
	t.Helper()
	cfg, _, err := b.st.Config(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Rule(id)
}
