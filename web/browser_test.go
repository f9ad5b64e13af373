package web

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deprov/deprov/store"
)

// The browser tests drive the console in a real headless Chromium
// (../shared/TARGETS.md): log in, create a rule with a Quartz schedule and
// watch its fire times appear, activate and deactivate it, dry-run a rule,
// check that an auditor sees no edit control and that a form without its
// CSRF token is refused. They save screenshots as test artifacts in
// $DEPROV_TEST_ARTIFACTS (default: a temporary directory), and with
// DEPROV_WRITE_DOCS=1 also the README's docs/rules.png and
// docs/revocations.png.

// browserTimeout bounds each browser test.
const browserTimeout = 60 * time.Second

// chromium finds the browser, or skips the test (fails it under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("DEPROV_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "Chromium not found: install it with `apt-get install -y chromium` (or set DEPROV_CHROMIUM)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a fresh headless Chromium for one test, with its own
// profile, and returns a tab's context bounded by browserTimeout.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-GB"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	return ctx
}

// stepTimeout bounds one group of steps, so that a step that never
// happens leaves time for the failure's screenshot.
const stepTimeout = 20 * time.Second

// must runs browser steps and fails the test, with a screenshot, at the
// first error.
func must(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		if shot, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			saveArtifact(t, "failure-"+safeName(t.Name())+".png", shot)
		}
		t.Fatalf("%s: %v", what, err)
	}
}

func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func safeName(s string) string { return strings.NewReplacer("/", "-", " ", "-").Replace(s) }

// artifacts is where screenshots go.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DEPROV_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func saveArtifact(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// screenshot saves the whole page as an artifact and, when asked
// (DEPROV_WRITE_DOCS=1), its first screenful as the README's picture
// docs/<doc>.
func screenshot(t *testing.T, ctx context.Context, name, doc string) {
	t.Helper()
	shot := get(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	saveArtifact(t, name, shot)
	if doc != "" && os.Getenv("DEPROV_WRITE_DOCS") == "1" {
		// The README's picture is what a person sees first: the viewport.
		view := get(t, ctx, "screenshot", chromedp.CaptureScreenshot())
		dir := filepath.Join("..", "docs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, doc), view, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote docs/%s", doc)
	}
}

// signIn logs the browser in with a role's token through the login form.
func signIn(t *testing.T, ctx context.Context, b *bundle, role store.Role) {
	t.Helper()
	must(t, ctx, "log in as "+string(role),
		chromedp.Navigate(b.srv.URL+"/rules"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), b.tok[role]),
		chromedp.Submit(chromedp.CSS("#login-form")),
		chromedp.WaitVisible(chromedp.CSS(".topbar .role-"+string(role))),
	)
}

func TestBrowserRuleLifecycle(t *testing.T) {
	b := setup(t)
	b.seed(t)
	ctx := browser(t)

	// A wrong token first: the login page says so.
	must(t, ctx, "bad login",
		chromedp.Navigate(b.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "dpv_wrong-token-0000000000"),
		chromedp.Submit(chromedp.CSS("#login-form")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	signIn(t, ctx, b, store.RoleAdmin)

	// A new rule with a Quartz schedule in Europe/Berlin.
	must(t, ctx, "open the editor",
		chromedp.Click(chromedp.CSS("#new-rule")),
		chromedp.WaitVisible(chromedp.CSS("#rule-form")),
		chromedp.SendKeys(chromedp.CSS(`[id="f-id"]`), "weekly-review"),
		chromedp.SendKeys(chromedp.CSS(`[id="f-name"]`), "Weekly review"),
		chromedp.SendKeys(chromedp.CSS(`[id="f-trigger.statuses"]`), "TERMINATED"),
		chromedp.SetValue(chromedp.CSS(`[id="f-gracePeriodDays"]`), "5"),
		// A cron line with an hour out of range is flagged as it is typed.
		chromedp.SendKeys(chromedp.CSS(`[id="f-schedule.cron"]`), "0 0 25 ? * 1"),
		chromedp.WaitVisible(chromedp.CSS(`[data-errors-for="schedule.cron"] p`)),
	)
	cronErr := get(t, ctx, "cron error", chromedp.Text(chromedp.CSS(`[data-errors-for="schedule.cron"]`)))
	if !strings.Contains(cronErr, "hour") {
		t.Errorf("the cron error says %q, want it to name the hour field", cronErr)
	}
	must(t, ctx, "fix the schedule",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-schedule.cron").value = ""`),
		chromedp.SendKeys(chromedp.CSS(`[id="f-schedule.cron"]`), "0 0 12 ? * 1"),
		chromedp.SendKeys(chromedp.CSS(`[id="f-schedule.timezone"]`), "Europe/Berlin"),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-errors-for="schedule.cron"] p`)),
		chromedp.WaitVisible(chromedp.CSS("#fire-times li:nth-child(5)")),
	)
	// The preview is for the timezone typed last, not an earlier keystroke.
	fires := get(t, ctx, "fire times", chromedp.Poll[[]string](`(() => {
		const xs = [...document.querySelectorAll("#fire-times li")].map(li => li.textContent);
		return xs.length === 5 && xs.every(x => /CET|CEST/.test(x)) ? xs : null;
	})()`, chromedp.WithPollingTimeout(20*time.Second)))
	want := []string{"29 Nov 2026", "6 Dec 2026", "13 Dec 2026", "20 Dec 2026", "27 Dec 2026"}
	for i, f := range fires {
		if w := "Sun " + want[i] + ", 12:00 CET"; f != w {
			t.Errorf("fire time %d is %q, want %q (Sunday noon in Berlin)", i+1, f, w)
		}
	}
	// The CEL check reports an error with its line and column, then ok.
	must(t, ctx, "check the scope",
		chromedp.SendKeys(chromedp.CSS(`[id="f-scope"]`), `user.department ==`),
		chromedp.Click(chromedp.CSS(`[data-cel-check="f-scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-errors-for="scope"] p`)),
	)
	if msg := get(t, ctx, "scope error", chromedp.Text(chromedp.CSS(`[data-errors-for="scope"]`))); !strings.Contains(msg, "line 1, column") {
		t.Errorf("the CEL check says %q, want a line and column", msg)
	}
	must(t, ctx, "fix the scope",
		chromedp.SendKeys(chromedp.CSS(`[id="f-scope"]`), ` "Sales"`),
		chromedp.Click(chromedp.CSS(`[data-cel-check="f-scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-cel-result="scope"].ok`)),
		chromedp.Click(chromedp.CSS(`[id="f-active"]`)),
	)
	screenshot(t, ctx, "rule-editor.png", "")
	must(t, ctx, "save",
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS(".flash-ok")),
		chromedp.WaitVisible(chromedp.CSS("#rule-status.st-active")),
	)
	// The rules page lists it as active.
	row := `tr[data-rule="weekly-review"]`
	must(t, ctx, "rules list", chromedp.Click(chromedp.CSS(`.topbar a[href="/rules"]`)), chromedp.WaitVisible(chromedp.CSS(row)))
	if s := get(t, ctx, "status", chromedp.Text(chromedp.CSS(row+" .status"))); s != "active" {
		t.Errorf("listed as %q, want active", s)
	}
	screenshot(t, ctx, "rules.png", "")
	// Deactivate it from the list.
	must(t, ctx, "deactivate",
		chromedp.Click(chromedp.CSS(`button[data-toggle-active="weekly-review"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash-ok")),
		chromedp.WaitVisible(chromedp.CSS(row)),
	)
	if s := get(t, ctx, "status", chromedp.Text(chromedp.CSS(row+" .status"))); s != "inactive" {
		t.Errorf("after deactivating: listed as %q, want inactive", s)
	}
	if r, ok := b.ruleOf(t, "weekly-review"); !ok || r.Schedule == nil || r.Schedule.Active || r.Schedule.Cron != "0 0 12 ? * 1" || r.Schedule.Timezone != "Europe/Berlin" {
		t.Errorf("stored rule: %+v", r)
	}

	// The picture for the README: a seeded rule's editor and scheduler.
	must(t, ctx, "leavers", chromedp.Navigate(b.srv.URL+"/rules/leavers"), chromedp.WaitVisible(chromedp.CSS("#fire-times li:nth-child(5)")))
	screenshot(t, ctx, "rule-leavers.png", "rules.png")
}

func TestBrowserDryRun(t *testing.T) {
	b := setup(t)
	b.seed(t)
	ctx := browser(t)
	signIn(t, ctx, b, store.RoleOperator)
	must(t, ctx, "dry run",
		chromedp.Navigate(b.srv.URL+"/rules/leavers"),
		chromedp.WaitVisible(chromedp.CSS("#dry-run")),
		chromedp.Click(chromedp.CSS("#dry-run")),
		chromedp.WaitVisible(chromedp.CSS("#plan")),
		chromedp.WaitVisible(chromedp.CSS("#dry-run-notice")),
	)
	rows := get(t, ctx, "plan rows", chromedp.Evaluate[int](`document.querySelectorAll("#plan tbody tr").length`))
	planned := get(t, ctx, "planned", chromedp.Text(chromedp.CSS("#count-planned")))
	text := get(t, ctx, "plan", chromedp.Text(chromedp.CSS("#plan")))
	if rows < 5 || !strings.Contains(text, "skip: out of scope") || !strings.Contains(text, "skip: already scheduled") {
		t.Errorf("plan with %d rows (%s planned):\n%s", rows, planned, text)
	}
	screenshot(t, ctx, "dry-run.png", "")
}

func TestBrowserAuditorSeesNoEditControls(t *testing.T) {
	b := setup(t)
	b.seed(t)
	ctx := browser(t)
	signIn(t, ctx, b, store.RoleAuditor)
	for _, path := range []string{"/rules", "/rules/leavers", "/runs", fmt.Sprintf("/runs/%d", b.quarantined), "/revocations", "/applications", "/sources", "/identities", "/audit"} {
		must(t, ctx, path, chromedp.Navigate(b.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		n := get(t, ctx, "edit controls", chromedp.Evaluate[int](`document.querySelectorAll(
			'form[method="post"]:not(#logout), #rule-form, [data-cel-check], #dry-run, #run-now, #toggle-active, #approve, #new-rule').length`))
		if n != 0 {
			t.Errorf("the auditor sees %d edit control(s) on %s", n, path)
		}
	}
	// The rule page shows the schedule and its next fire times, read-only.
	must(t, ctx, "rule view", chromedp.Navigate(b.srv.URL+"/rules/leavers"), chromedp.WaitVisible(chromedp.CSS("#fire-times li:nth-child(5)")))
	screenshot(t, ctx, "auditor-rule.png", "")
}

func TestBrowserFormWithoutCSRFTokenIsRefused(t *testing.T) {
	b := setup(t)
	b.seed(t)
	ctx := browser(t)
	signIn(t, ctx, b, store.RoleOperator)
	must(t, ctx, "open the rule", chromedp.Navigate(b.srv.URL+"/rules/leavers"), chromedp.WaitVisible(chromedp.CSS("#dry-run")))
	removed := get(t, ctx, "remove the token", chromedp.Evaluate[int](`(() => {
		const f = document.querySelector('form[action$="/dry-run"]');
		const inputs = f.querySelectorAll('input[name="csrf_token"]');
		inputs.forEach(i => i.remove());
		return inputs.length;
	})()`))
	if removed != 1 {
		t.Fatalf("removed %d CSRF fields, want 1", removed)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#dry-run")))
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if resp == nil || resp.Status != 403 {
		t.Errorf("the form without its token got %v, want 403", resp)
	}
	must(t, ctx, "refusal page", chromedp.WaitVisible(chromedp.CSS("#msg-h")))
	if h := get(t, ctx, "heading", chromedp.Text(chromedp.CSS("#msg-h"))); h != "Request refused" {
		t.Errorf("the page says %q, want Request refused", h)
	}
	// With the token (a fresh page), the same form works.
	must(t, ctx, "dry run with the token",
		chromedp.Navigate(b.srv.URL+"/rules/leavers"),
		chromedp.WaitVisible(chromedp.CSS("#dry-run")),
		chromedp.Click(chromedp.CSS("#dry-run")),
		chromedp.WaitVisible(chromedp.CSS("#plan")),
	)
}

func TestBrowserRevocationsTimeline(t *testing.T) {
	b := setup(t)
	b.seed(t)
	ctx := browser(t)
	signIn(t, ctx, b, store.RoleOperator)
	must(t, ctx, "revocations", chromedp.Navigate(b.srv.URL+"/revocations"), chromedp.WaitVisible(chromedp.CSS("#timeline")))
	bars := get(t, ctx, "bars", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline .tl-row")].map(g => g.getAttribute("class"))`))
	states := map[string]int{}
	for _, c := range bars {
		states[strings.TrimPrefix(strings.Fields(c)[1], "tl-")]++
	}
	if states["scheduled"] < 6 || states["waiting"] != 1 {
		t.Errorf("timeline bars by state: %v", states)
	}
	now := get(t, ctx, "now line", chromedp.Evaluate[bool](`(() => {
		const l = document.querySelector("#timeline .tl-now").getBoundingClientRect();
		const s = document.querySelector("#timeline").getBoundingClientRect();
		return l.height > 0 && l.left > s.left && l.right < s.right;
	})()`))
	if !now {
		t.Error("the now line is not drawn inside the timeline")
	}
	for _, sel := range []string{"#failed", "#waiting", "#cancelled", "#scheduled"} {
		must(t, ctx, sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	screenshot(t, ctx, "revocations.png", "revocations.png")
}
