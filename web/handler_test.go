package web

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deprov/deprov/store"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)

	if p := c.get(t, "/rules"); p.status != http.StatusSeeOther || p.location != "/login?next=%2Frules" {
		t.Fatalf("a page without a session: %d to %q, want 303 to the login page", p.status, p.location)
	}
	for _, tc := range []struct{ name, token, want string }{
		{"unknown token", "dpv_not-a-token-at-all-123456", "unknown or has been revoked"},
		{"no token", "", "Enter an API token"},
	} {
		p := c.post(t, "/login", url.Values{"token": {tc.token}, "next": {"/runs"}})
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s: status %d, want 401 saying %q", tc.name, p.status, tc.want)
		}
		if g := c.get(t, "/rules"); g.status != http.StatusSeeOther {
			t.Errorf("%s: a failed login opened a session (GET /rules: %d)", tc.name, g.status)
		}
	}

	p := c.post(t, "/login", url.Values{"token": {b.tok[store.RoleOperator]}, "next": {"/runs"}})
	if p.status != http.StatusSeeOther || p.location != "/runs" {
		t.Fatalf("login: %d to %q, want 303 to /runs", p.status, p.location)
	}
	if g := c.get(t, "/runs"); g.status != http.StatusOK || !strings.Contains(g.body, "web-operator") {
		t.Fatalf("after login: %d, want the page naming the token", g.status)
	}
	// A next that leaves the site is ignored.
	c2 := b.client(t)
	if p := c2.post(t, "/login", url.Values{"token": {b.tok[store.RoleAuditor]}, "next": {"//evil.example/"}}); p.location != "/rules" {
		t.Errorf("login with an off-site next redirected to %q", p.location)
	}

	// Sign out needs the CSRF token too, and ends the session.
	if p := c.post(t, "/logout", nil); p.status != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d, want 403", p.status)
	}
	if p := c.post(t, "/logout", url.Values{"csrf_token": {c.csrf(t)}}); p.status != http.StatusSeeOther {
		t.Errorf("logout: %d", p.status)
	}
	if g := c.get(t, "/runs"); g.status != http.StatusSeeOther {
		t.Errorf("after logout: GET /runs %d, want a redirect to the login page", g.status)
	}
}

// pages lists the console's pages with a text each must show.
func pages(b *bundle) map[string]string {
	return map[string]string{
		"/rules":                               "Ended contracts",
		"/rules/leavers":                       "Scheduler",
		"/rules/inactive":                      "Inactive accounts",
		"/runs":                                "Quarantined runs awaiting a decision",
		fmt.Sprintf("/runs/%d", b.quarantined): "Quarantined: nothing is scheduled",
		"/revocations":                         "Grace periods",
		"/applications":                        "GitHub Enterprise",
		"/applications/slack":                  "engineering",
		"/identities":                          "Bob Brennan",
		"/identities?search=car":               "Carol Castillo",
		"/identities/hr/1002":                  "Bob Brennan",
		"/sources":                             "HR export",
		"/audit":                               "Audit log",
		"/audit?verify=1":                      "Chain intact",
		"/audit?action=revocation.&from=2026-11-01&to=2026-11-30": "revocation.scheduled",
	}
}

func TestPagesRenderForEveryRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	for _, role := range []store.Role{store.RoleAuditor, store.RoleOperator, store.RoleAdmin} {
		c := b.login(t, role)
		for path, want := range pages(b) {
			p := c.get(t, path)
			if p.status != http.StatusOK {
				t.Errorf("%s GET %s: status %d", role, path, p.status)
				continue
			}
			if !strings.Contains(p.body, want) {
				t.Errorf("%s GET %s: the page does not show %q", role, path, want)
			}
			if strings.Contains(p.body, sandboxSecret) || strings.Contains(p.body, b.tok[role]) {
				t.Errorf("%s GET %s: the page shows a secret", role, path)
			}
		}
		want := http.StatusForbidden
		if role == store.RoleAdmin {
			want = http.StatusOK
		}
		if p := c.get(t, "/rules/_new"); p.status != want {
			t.Errorf("%s GET /rules/_new: %d, want %d", role, p.status, want)
		}
		if p := c.get(t, "/rules/no-such-rule"); p.status != http.StatusNotFound {
			t.Errorf("%s GET an unknown rule: %d, want 404", role, p.status)
		}
	}
}

var (
	postForm   = regexp.MustCompile(`(?is)<form[^>]*method="post"[^>]*>`)
	formAction = regexp.MustCompile(`action="([^"]*)"`)
)

// postActions lists the actions of a page's state-changing forms.
func postActions(body string) []string {
	var out []string
	for _, f := range postForm.FindAllString(body, -1) {
		if m := formAction.FindStringSubmatch(f); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func TestControlsFollowTheRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	// What each role must see somewhere (form actions), and never.
	operatorActs := []string{"/dry-run", "/approve", "/reject", "/retry", "/cancel", "/complete", "/aggregate", "/sync"}
	adminActs := []string{"/deactivate", "/rules/leavers"}
	for _, role := range []store.Role{store.RoleAuditor, store.RoleOperator, store.RoleAdmin} {
		c := b.login(t, role)
		var acts []string
		for path := range pages(b) {
			p := c.get(t, path)
			for _, a := range postActions(p.body) {
				if a != "/logout" {
					acts = append(acts, a)
				}
			}
			if role != store.RoleAdmin && (strings.Contains(p.body, `id="rule-form"`) || strings.Contains(p.body, "data-cel-check")) {
				t.Errorf("%s sees the rule editor on %s", role, path)
			}
		}
		all := strings.Join(acts, " ")
		switch role {
		case store.RoleAuditor:
			if len(acts) > 0 {
				t.Errorf("the auditor's pages have edit forms: %v", acts)
			}
		case store.RoleOperator:
			for _, want := range operatorActs {
				if !strings.Contains(all, want) {
					t.Errorf("the operator sees no %s form", want)
				}
			}
			if strings.Contains(all, "/deactivate") || strings.Contains(all, "/delete") || strings.Contains(all, `"/rules/leavers"`) {
				t.Errorf("the operator sees configuration forms: %v", acts)
			}
		case store.RoleAdmin:
			for _, want := range append(operatorActs, adminActs...) {
				if !strings.Contains(all, want) {
					t.Errorf("the admin sees no %s form", want)
				}
			}
		}
	}

	// Hiding is not the only guard: a post the role may not make is refused.
	c := b.login(t, store.RoleAuditor)
	p := c.post(t, "/rules/leavers/dry-run", url.Values{"csrf_token": {c.csrf(t)}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "needs operator") {
		t.Errorf("an auditor's dry run: %d, want 403", p.status)
	}
	c = b.login(t, store.RoleOperator)
	p = c.post(t, "/rules/leavers/deactivate", url.Values{"csrf_token": {c.csrf(t)}})
	if p.status != http.StatusForbidden {
		t.Errorf("an operator's deactivate: %d, want 403", p.status)
	}
}

func TestFormsNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.login(t, store.RoleAdmin)
	token := c.csrf(t)
	before, _ := b.ruleOf(t, "leavers")
	steps := []struct {
		name, path string
		form       url.Values
		status     int
		want       string
	}{
		{"dry run without the token", "/rules/leavers/dry-run", url.Values{}, http.StatusForbidden, "Request refused"},
		{"dry run with a wrong token", "/rules/leavers/dry-run", url.Values{"csrf_token": {token + "x"}}, http.StatusForbidden, "Request refused"},
		{"deactivate without the token", "/rules/leavers/deactivate", url.Values{}, http.StatusForbidden, "Nothing was changed"},
		{"dry run with the token", "/rules/leavers/dry-run", url.Values{"csrf_token": {token}}, http.StatusOK, `id="plan"`},
	}
	for _, s := range steps {
		p := c.post(t, s.path, s.form)
		if p.status != s.status || !strings.Contains(p.body, s.want) {
			t.Errorf("%s: status %d, want %d with %q", s.name, p.status, s.status, s.want)
		}
	}
	if after, _ := b.ruleOf(t, "leavers"); !after.Schedule.Active || fingerprint(after) != fingerprint(before) {
		t.Error("a refused form changed the rule")
	}
	// With the token, the change is made.
	p := c.post(t, "/rules/leavers/deactivate", url.Values{"csrf_token": {token}, "back": {"/rules"}})
	if p.status != http.StatusSeeOther || p.location != "/rules" {
		t.Fatalf("deactivate: %d to %q", p.status, p.location)
	}
	if after, _ := b.ruleOf(t, "leavers"); after.Schedule.Active {
		t.Error("deactivate left the schedule active")
	}
	if g := c.get(t, "/rules"); !strings.Contains(g.body, "deactivated") {
		t.Error("no message after deactivating")
	}

	// A cross-site form post is refused before it reaches a handler, the
	// login form included.
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/login", strings.NewReader("token="+adminSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.client(t).do(t, req); p.status != http.StatusForbidden {
		t.Errorf("cross-site login: %d, want 403", p.status)
	}
}

// ruleFormValues is the editor's form for a rule as a browser sends it.
func ruleFormValues(csrf string, kv ...string) url.Values {
	v := url.Values{"csrf_token": {csrf}, "app": {"github", "slack", "legacy-erp"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

var fieldErrors = regexp.MustCompile(`(?s)data-errors-for="([^"]+)">(.*?)</div>`)

// errorsOn returns the errors the editor shows next to each field.
func errorsOn(body string) map[string]string {
	out := map[string]string{}
	for _, m := range fieldErrors.FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(m[2]) != "" {
			out[m[1]] += m[2]
		}
	}
	return out
}

func TestRuleEditor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.login(t, store.RoleAdmin)
	token := c.csrf(t)

	// Every problem is reported next to its field, and nothing is saved.
	bad := ruleFormValues(token, "id", "weekly-review", "name", "Weekly review", "statuses", "TERMINATED",
		"cron", "0 0 25 ? * 1", "timezone", "Europe/Berlin", "grace", "abc", "allocation", "999",
		"hookKind", "cel", "hookCel", "user.status ==", "exclude", "slack", "until.slack", "someday",
		"action.github", "obliterate", "maxPercent", "150")
	p := c.post(t, "/rules/_new", bad)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid rule: status %d, want 422", p.status)
	}
	errs := errorsOn(p.body)
	for field, want := range map[string]string{
		"schedule.cron":         "hour",
		"gracePeriodDays":       "not a whole number",
		"processAllocationSize": "between 1 and 256",
		"trigger.hook.cel":      "line 1",
		"exclude.slack.until":   "someday",
		"action.github":         "obliterate",
		"safety.maxPercent":     "between 0 and 100",
	} {
		if !strings.Contains(errs[field], want) {
			t.Errorf("field %s shows %q, want it to mention %q", field, errs[field], want)
		}
	}
	if !strings.Contains(p.body, "nothing was saved") || !strings.Contains(p.body, `value="0 0 25 ? * 1"`) {
		t.Error("the form does not come back as sent with the problem summary")
	}
	if _, ok := b.ruleOf(t, "weekly-review"); ok {
		t.Fatal("an invalid rule was saved")
	}
	bad.Set("timezone", "Mars/Olympus")
	if errs := errorsOn(c.post(t, "/rules/_new", bad).body); !strings.Contains(errs["schedule.timezone"], "Mars/Olympus") {
		t.Errorf("an unknown timezone shows %q", errs["schedule.timezone"])
	}
	bad = ruleFormValues(token, "name", "No id", "grace", "1")
	if errs := errorsOn(c.post(t, "/rules/_new", bad).body); errs["id"] == "" || errs["trigger"] == "" {
		t.Errorf("a rule without id or trigger: %v", errs)
	}

	// A valid rule is created, with every field.
	good := ruleFormValues(token, "id", "weekly-review", "name", "Weekly review", "statuses", "TERMINATED, inactive ",
		"endDateOn", "1", "endDateOffset", "-2", "hookKind", "cel", "hookCel", `user.department == "Sales"`,
		"scope", `user.department != "board"`, "exclude", "legacy-erp", "reason.legacy-erp", "manual",
		"until.legacy-erp", "2027-03-01", "grace", "5", "actionDefault", "disable", "action.slack", "revoke",
		"allocation", "8", "maxUsers", "20", "maxPercent", "2.5", "immediate", "1",
		"cron", "0 0 12 ? * 1", "timezone", "Europe/Berlin", "active", "1")
	p = c.post(t, "/rules/_new", good)
	if p.status != http.StatusSeeOther || p.location != "/rules/weekly-review" {
		t.Fatalf("valid rule: %d to %q: %s", p.status, p.location, errorsOn(p.body))
	}
	r, ok := b.ruleOf(t, "weekly-review")
	if !ok {
		t.Fatal("the rule was not saved")
	}
	got := fmt.Sprintf("%v|%+v|%v|%s|%v|%d|%v|%d|%d|%v|%v|%+v", r.Trigger.Statuses, *r.Trigger.EndDate, r.Trigger.Hook.CEL,
		r.Scope, r.ExcludeApplications, r.GracePeriodDays, r.Action, *r.ProcessAllocationSize, *r.Safety.MaxUsers,
		*r.Safety.MaxPercent, r.Immediate, *r.Schedule)
	want := `[TERMINATED inactive]|{OffsetDays:-2}|user.department == "Sales"|user.department != "board"|` +
		`[{legacy-erp manual 2027-03-01}]|5|{disable map[slack:revoke]}|8|20|2.5|true|{Cron:0 0 12 ? * 1 Timezone:Europe/Berlin Active:true}`
	if got != want {
		t.Errorf("saved rule:\n got %s\nwant %s", got, want)
	}
	page := c.get(t, "/rules/weekly-review")
	for _, want := range []string{"Sun 29 Nov 2026, 12:00 CET", "Sun 27 Dec 2026, 12:00 CET", "created", "Quartz"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the saved rule's page does not show %q", want)
		}
	}
	// The editor reads back what it wrote: saving it unchanged changes nothing.
	if p := c.post(t, "/rules/_new", good); p.status != http.StatusUnprocessableEntity || !strings.Contains(errorsOn(p.body)["id"], "exists already") {
		t.Errorf("creating a rule twice: %d %v", p.status, errorsOn(p.body))
	}
	base := regexp.MustCompile(`name="base" value="([^"]+)"`).FindStringSubmatch(page.body)[1]
	edit := ruleFormValues(token, "base", base, "name", "Weekly review", "statuses", "TERMINATED", "grace", "9",
		"cron", "*/15 * * * *", "timezone", "UTC")
	if p := c.post(t, "/rules/weekly-review", edit); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %v", p.status, errorsOn(p.body))
	}
	if r, _ := b.ruleOf(t, "weekly-review"); r.GracePeriodDays != 9 || r.Schedule.Active || r.Trigger.Hook != nil || len(r.ExcludeApplications) != 0 {
		t.Errorf("after edit: %+v", r)
	}
	// A save over someone else's change is refused.
	if p := c.post(t, "/rules/weekly-review", edit); p.status != http.StatusConflict || !strings.Contains(p.body, "Someone changed this rule") {
		t.Errorf("stale edit: %d, want 409", p.status)
	}
	// Activate needs a schedule; it keeps the rest of the rule.
	if p := c.post(t, "/rules/weekly-review/activate", url.Values{"csrf_token": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("activate: %d", p.status)
	}
	if r, _ := b.ruleOf(t, "weekly-review"); !r.Schedule.Active || r.GracePeriodDays != 9 {
		t.Errorf("after activate: %+v", r)
	}
	if p := c.post(t, "/rules/weekly-review/delete", url.Values{"csrf_token": {token}}); p.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", p.status)
	}
	if _, ok := b.ruleOf(t, "weekly-review"); ok {
		t.Error("the rule was not removed")
	}
}

func TestDryRunAndRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.login(t, store.RoleOperator)
	token := c.csrf(t)

	p := c.post(t, "/rules/mass-exit/dry-run", url.Values{"csrf_token": {token}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "nothing was changed") {
		t.Fatalf("dry run: %d", p.status)
	}
	for _, want := range []string{"dave", "erin", `id="count-planned"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the mass-exit plan does not show %q", want)
		}
	}
	p = c.post(t, "/rules/leavers/dry-run", url.Values{"csrf_token": {token}})
	for _, want := range []string{"skip: out of scope", "skip: already scheduled", "skip: excluded", "payroll closes the ERP account"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the leavers plan does not show %q", want)
		}
	}

	// Approve the quarantined run from the runs page.
	q := fmt.Sprintf("/runs/%d", b.quarantined)
	if g := c.get(t, q); !strings.Contains(g.body, "for the fire time") {
		t.Error("the scheduled run's page does not name its fire time")
	}
	p = c.post(t, q+"/approve", url.Values{"csrf_token": {token}, "back": {"/runs"}})
	if p.status != http.StatusSeeOther || p.location != "/runs" {
		t.Fatalf("approve: %d to %q", p.status, p.location)
	}
	if g := c.get(t, "/runs"); !strings.Contains(g.body, "approved: its") {
		t.Errorf("no message after approving: %s", flashOf(g.body))
	}
	run, err := b.st.Run(b.ctx, b.quarantined)
	if err != nil || run.State != store.RunApproved {
		t.Fatalf("after approve: %v %v", run.State, err)
	}
	// Approving twice is an error the page shows, not a crash.
	c.post(t, q+"/approve", url.Values{"csrf_token": {token}})
	if g := c.get(t, q); !strings.Contains(flashOf(g.body), "quarantined") {
		t.Errorf("second approve: flash %q", flashOf(g.body))
	}

	// Retry the failed revocation; cancel a scheduled one with a reason.
	p = c.post(t, fmt.Sprintf("/revocations/%d/retry", b.failedRev), url.Values{"csrf_token": {token}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("retry: %d", p.status)
	}
	if r, _ := b.st.Revocation(b.ctx, b.failedRev); r.State != store.Scheduled {
		t.Errorf("after retry: %s", r.State)
	}
	sched, _ := b.st.ListRevocations(b.ctx, store.RevocationQuery{States: []store.RevocationState{store.Scheduled}, RuleID: "inactive"})
	p = c.post(t, fmt.Sprintf("/revocations/%d/cancel", sched[0].ID), url.Values{"csrf_token": {token}, "reason": {"on leave, not gone"}})
	if r, _ := b.st.Revocation(b.ctx, sched[0].ID); r.State != store.Cancelled || r.CancelReason == "" {
		t.Errorf("after cancel: %s %q", r.State, r.CancelReason)
	}
	if g := c.get(t, "/revocations"); !strings.Contains(g.body, "on leave, not gone") {
		t.Error("the cancelled table does not show the reason")
	}

	// Undo the leavers run: its scheduled revocations are cancelled, what it
	// did is restored by an undo run of its own.
	leavers, _ := b.st.ListRuns(b.ctx, store.RunQuery{RuleID: "leavers"})
	undone := leavers[len(leavers)-1].ID
	p = c.post(t, fmt.Sprintf("/runs/%d/undo", undone), url.Values{"csrf_token": {token}})
	if p.status != http.StatusSeeOther || p.location == fmt.Sprintf("/runs/%d", undone) {
		t.Fatalf("undo: %d to %q, want the undo run's page", p.status, p.location)
	}
	if g := c.get(t, p.location); !strings.Contains(g.body, "undone: 1 account to restore") || !strings.Contains(g.body, "restore") {
		t.Errorf("the undo run's page: %s", flashOf(g.body))
	}

	// The manual work item: completing needs nothing, rejecting needs a note.
	waiting, _ := b.st.ListRevocations(b.ctx, store.RevocationQuery{States: []store.RevocationState{store.Waiting}})
	wi := fmt.Sprintf("/revocations/%d/", waiting[0].ID)
	c.post(t, wi+"reject", url.Values{"csrf_token": {token}})
	if g := c.get(t, "/revocations"); !strings.Contains(flashOf(g.body), "note") {
		t.Errorf("rejecting without a note: flash %q", flashOf(g.body))
	}
	c.post(t, wi+"complete", url.Values{"csrf_token": {token}, "note": {"locked in the ERP console"}})
	if r, _ := b.st.Revocation(b.ctx, waiting[0].ID); r.State != store.Succeeded {
		t.Errorf("after complete: %s", r.State)
	}

	// A real run goes to its run page.
	p = c.post(t, "/rules/contractors/run", url.Values{"csrf_token": {token}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/runs/") {
		t.Fatalf("run: %d to %q", p.status, p.location)
	}
}

func TestSourcesAndHeldSyncs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)
	c := b.login(t, store.RoleOperator)
	token := c.csrf(t)
	// Half the people change status at once: the feed guard holds it.
	feed := strings.NewReplacer("ACTIVE", "TERMINATED").Replace(hrCSV)
	if err := os.WriteFile(filepath.Join(b.dir, "hr.csv"), []byte(feed), 0o600); err != nil {
		t.Fatal(err)
	}
	p := c.post(t, "/sources/hr/sync", url.Values{"csrf_token": {token}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("sync: %d", p.status)
	}
	g := c.get(t, "/sources")
	if !strings.Contains(flashOf(g.body), "was held, nothing of it applied") || !strings.Contains(g.body, `id="held"`) {
		t.Fatalf("after a suspicious sync: flash %q", flashOf(g.body))
	}
	held, _ := b.st.ListHeldSyncs(b.ctx, store.HeldSyncQuery{State: store.HeldPending})
	if len(held) != 1 {
		t.Fatalf("%d held deliveries", len(held))
	}
	if p := c.post(t, fmt.Sprintf("/held-syncs/%d/reject", held[0].ID), url.Values{"csrf_token": {token}, "reason": {"test tenant export"}}); p.status != http.StatusSeeOther {
		t.Fatalf("reject: %d", p.status)
	}
	if h, _ := b.st.HeldSync(b.ctx, held[0].ID); h.State != store.HeldRejected {
		t.Errorf("after reject: %s", h.State)
	}
	if id, _ := b.st.Identity(b.ctx, "hr/1001"); id.Status != "ACTIVE" {
		t.Errorf("a rejected delivery changed alice to %s", id.Status)
	}
	// Aggregation from the applications page.
	if p := c.post(t, "/applications/github/aggregate", url.Values{"csrf_token": {token}, "back": {"/applications/github"}}); p.location != "/applications/github" {
		t.Errorf("aggregate: %d to %q", p.status, p.location)
	}
	if g := c.get(t, "/applications/github"); !strings.Contains(flashOf(g.body), "Aggregated github: 10 accounts") {
		t.Errorf("after aggregate: flash %q", flashOf(g.body))
	}
}

var flashRE = regexp.MustCompile(`(?s)class="flash flash-\w+"[^>]*>(.*?)</div>`)

func flashOf(body string) string {
	if m := flashRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}
