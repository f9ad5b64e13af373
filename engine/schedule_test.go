package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/store"
)

func applyYAML(t testing.TB, e *engine.Engine, y string) {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), cfg, "test", false); err != nil {
		t.Fatal(err)
	}
}

const scheduledRule = `
sources:
  - {id: hr, type: csv, path: /nonexistent.csv}
rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    schedule: {cron: "%s", timezone: Europe/Berlin, active: %s}
`

func sched(cron, active string) string {
	return strings.Replace(strings.Replace(scheduledRule, "%s", cron, 1), "%s", active, 1)
}

// TestScheduleChangesWithoutRestart: activating, changing and deactivating
// a rule's schedule takes effect in a serving engine without a restart,
// including a change applied by another process (another engine on the
// same database).
func TestScheduleChangesWithoutRestart(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t, t.TempDir(), nil)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	serving, err := engine.New(engine.Options{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	other, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, other, sched("0 0 2 * * ?", "false"))
	if err := serving.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serving.Stop(context.Background()) })
	if _, ok := serving.Schedules()["rule-leavers"]; ok {
		t.Fatal("an inactive schedule is set")
	}
	if _, ok := serving.Schedules()["source-hr"]; ok {
		t.Fatal("a source without a schedule is scheduled")
	}

	applyYAML(t, other, sched("0 0 2 * * ?", "true"))
	serving.Reload(ctx)
	want := time.Date(2026, 11, 27, 2, 0, 0, 0, berlin)
	if got := serving.Schedules()["rule-leavers"]; !got.Equal(want) {
		t.Fatalf("activated: next fire %s, want %s", got, want)
	}

	applyYAML(t, other, sched("0 30 6 ? * 1", "true")) // Sundays 06:30
	serving.Reload(ctx)
	want = time.Date(2026, 11, 29, 6, 30, 0, 0, berlin)
	if got := serving.Schedules()["rule-leavers"]; !got.Equal(want) {
		t.Fatalf("changed: next fire %s, want %s", got, want)
	}

	applyYAML(t, other, sched("0 30 6 ? * 1", "false"))
	serving.Reload(ctx)
	if got, ok := serving.Schedules()["rule-leavers"]; ok {
		t.Fatalf("deactivated, still set to fire at %s", got)
	}
}

// TestScheduleFires: an active schedule fires the rule through River's
// periodic jobs, with the scheduler as the run's actor and the fire time on
// the run.
func TestScheduleFires(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t, t.TempDir(), nil)
	e, err := engine.New(engine.Options{Store: st, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, e, sched("* * * * * ?", "true")) // every second
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		runs, err := st.ListRuns(ctx, store.RunQuery{RuleID: "leavers"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 {
			if runs[0].Trigger != "schedule" || runs[0].Actor != "scheduler" {
				t.Fatalf("run %+v, want trigger schedule by the scheduler", runs[0])
			}
			// The run carries the fire time it is for: a whole second,
			// at most River's 100 ms insertion margin after its start.
			if f := runs[0].FireAt; f.IsZero() || !f.Equal(f.Truncate(time.Second)) || runs[0].StartedAt.Before(f.Add(-100*time.Millisecond)) {
				t.Fatalf("run started %s for fire time %s, want a whole second no later than the start", runs[0].StartedAt, f)
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // polling for an event, not waiting out a duration
	}
	t.Fatal("the schedule did not fire within 20 s")
}

// TestScheduledRunOncePerFireTime: a scheduled job taken up again after a
// crash (the same rule and fire time) finds the run its first attempt
// stored: no second run, no second revocation, no second audit trail.
func TestScheduledRunOncePerFireTime(t *testing.T) {
	b := setup(t, "2,bob,TERMINATED,,engineering\n3,carol,TERMINATED,,finance\n", leavers("7"))
	b.prepare(t)
	fire := b.clock.Now().Truncate(time.Hour)
	o := engine.RunOptions{Trigger: "schedule", Actor: "scheduler", FireAt: fire}
	first, err := b.e.Run(b.ctx, "leavers", o)
	if err != nil {
		t.Fatal(err)
	}
	if first.Counts.Planned != 2 || !first.FireAt.Equal(fire) {
		t.Fatalf("first run planned %d for fire time %s, want 2 for %s", first.Counts.Planned, first.FireAt, fire)
	}
	before := actions(t, b.st)

	again, err := b.e.Run(b.ctx, "leavers", o)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Fatalf("the same fire time ran again as run %d, want run %d back", again.ID, first.ID)
	}
	runs, err := b.st.ListRuns(b.ctx, store.RunQuery{RuleID: "leavers"})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || len(revs) != 2 {
		t.Fatalf("%d runs and %d revocations, want 1 and 2", len(runs), len(revs))
	}
	if after := actions(t, b.st); after["run.completed"] != before["run.completed"] || after["revocation.scheduled"] != before["revocation.scheduled"] {
		t.Fatalf("audit grew from %v to %v", before, after)
	}

	// The retried attempt still cancels what the rule no longer matches:
	// its scope left engineering out between the two attempts (a config
	// change reconsiders nobody; only a run does).
	cfg, _, err := b.st.Config(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules[0].Scope = `user.department != "engineering"`
	if _, err := b.e.Apply(b.ctx, cfg, "test", false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.Run(b.ctx, "leavers", o); err != nil {
		t.Fatal(err)
	}
	cancelled, err := b.st.ListRevocations(b.ctx, store.RevocationQuery{States: []store.RevocationState{store.Cancelled}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cancelled) != 1 || cancelled[0].UserName != "bob" {
		t.Fatalf("cancelled %+v, want bob's revocation", cancelled)
	}

	// The next fire time is a run of its own.
	next, err := b.e.Run(b.ctx, "leavers", engine.RunOptions{Trigger: "schedule", Actor: "scheduler", FireAt: fire.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if next.ID == first.ID || next.ID == 0 {
		t.Fatalf("next fire time: run %d, want a new run", next.ID)
	}
}

// TestApplyFromStaleVersion: a configuration made from a version that is
// no longer stored changes nothing; one made from the current version, or
// a whole replacement, applies.
func TestApplyFromStaleVersion(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t, t.TempDir(), nil)
	e, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, e, sched("0 0 2 * * ?", "false"))
	base, _, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, e, sched("0 0 3 * * ?", "false")) // another node's change: version 2
	edit := base
	edit.Rules = nil
	if _, err := e.ApplyFrom(ctx, edit, 1, "test", false); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("apply from version 1 at version 2: err = %v, want ErrConflict", err)
	}
	cfg, ver, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ver != 2 || len(cfg.Rules) != 1 || cfg.Rules[0].Schedule.Cron != "0 0 3 * * ?" {
		t.Fatalf("version %d, rules %+v: the stale edit changed something", ver, cfg.Rules)
	}
	if _, err := e.ApplyFrom(ctx, edit, 2, "test", false); err != nil {
		t.Fatal(err)
	}
	if _, ver, _ := st.Config(ctx); ver != 3 {
		t.Fatalf("version %d after applying from the current one, want 3", ver)
	}
}

// TestSharedPushTokenRefused: two scim sources whose token references hold
// one value would share a token, which says which source a push belongs
// to: the configuration is refused, naming the second source's token.
func TestSharedPushTokenRefused(t *testing.T) {
	t.Setenv("DEPROV_TEST_TOKEN_A", "same-secret-value")
	t.Setenv("DEPROV_TEST_TOKEN_B", "same-secret-value")
	ctx := context.Background()
	st := testdb.SQLite(t, t.TempDir(), nil)
	e, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(strings.NewReader(`
sources:
  - {id: workday, type: scim, token: "${env:DEPROV_TEST_TOKEN_A}"}
  - {id: okta, type: scim, token: "${env:DEPROV_TEST_TOKEN_B}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Apply(ctx, cfg, "test", false)
	if err == nil || !strings.Contains(err.Error(), "sources[1].token") || !strings.Contains(err.Error(), "the same token as source workday") {
		t.Fatalf("apply: %v, want the shared token refused", err)
	}
	if strings.Contains(err.Error(), "same-secret-value") {
		t.Fatal("the error shows the secret")
	}
}

// TestSourceScheduleSyncs: a csv source's schedule syncs it through River's
// periodic jobs, with the scheduler as the actor.
func TestSourceScheduleSyncs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), []byte("externalId,userName,status\n1,alice,ACTIVE\n2,bob,TERMINATED\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := testdb.SQLite(t, dir, nil)
	e, err := engine.New(engine.Options{Store: st, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, e, `
sources:
  - id: hr
    type: csv
    path: `+filepath.Join(dir, "hr.csv")+`
    schedule: {cron: "* * * * * ?"}
`)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		evs, err := st.ListAudit(ctx, store.AuditQuery{Action: "source.synced"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			if evs[0].Actor != "scheduler" {
				t.Fatalf("sync by %q, want the scheduler", evs[0].Actor)
			}
			if n, err := st.CountIdentities(ctx, store.IdentityQuery{SourceID: "hr"}); err != nil || n != 2 {
				t.Fatalf("%d identities after the scheduled sync (%v), want 2", n, err)
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // polling for an event, not waiting out a duration
	}
	t.Fatal("the source schedule did not sync within 20 s")
}
