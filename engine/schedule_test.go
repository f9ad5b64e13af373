package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"
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
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "deprov.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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
// periodic jobs, with the scheduler as the run's actor.
func TestScheduleFires(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "deprov.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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
			return
		}
		time.Sleep(50 * time.Millisecond) // polling for an event, not waiting out a duration
	}
	t.Fatal("the schedule did not fire within 20 s")
}
