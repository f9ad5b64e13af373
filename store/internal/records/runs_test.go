package records

import (
	"errors"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
)

func TestNewRunAndItsJSON(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	due := time.Date(2026, 5, 8, 10, 0, 0, 1, time.FixedZone("X", 3600))
	in := &store.Run{RuleID: "leavers", Counts: rule.Counts{Evaluated: 3, Planned: 1},
		Items: []rule.Item{{IdentityID: "hr/a", DueAt: due}}}
	run, err := NewRun(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if !run.StartedAt.Equal(now) || run.Items[0].DueAt.Location() != time.UTC || run.Items[0].DueAt.Nanosecond() != 0 {
		t.Fatalf("kept run %+v", run)
	}
	if in.Items[0].DueAt != due {
		t.Fatal("NewRun changed the caller's items")
	}
	counts, items, err := RunJSON(run)
	if err != nil {
		t.Fatal(err)
	}
	var back store.Run
	if err := DecodeRunCounts(&back, counts); err != nil {
		t.Fatal(err)
	}
	if err := DecodeRunItems(&back, items); err != nil {
		t.Fatal(err)
	}
	if back.Counts != run.Counts || len(back.Items) != 1 || !back.Items[0].DueAt.Equal(run.Items[0].DueAt) {
		t.Fatalf("round trip: %+v", back)
	}
	if _, items, _ := RunJSON(store.Run{}); items != "[]" {
		t.Fatalf("no items stored as %s", items)
	}
	if _, err := NewRun(nil, now); err == nil {
		t.Fatal("nil run")
	}
}

func TestCheckStates(t *testing.T) {
	t.Parallel()
	run := store.Run{ID: 7, State: store.RunQuarantined}
	if err := CheckRunState(run, []store.RunState{store.RunQuarantined}); err != nil {
		t.Fatal(err)
	}
	if err := CheckRunState(run, []store.RunState{store.RunCompleted}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	rev := store.Revocation{ID: 7, State: store.Succeeded}
	if err := CheckRevocationState(rev, store.Active); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
}

func TestRunEvents(t *testing.T) {
	t.Parallel()
	run := store.Run{ID: 7, RuleID: "leavers"}
	revs := []store.Revocation{{ID: 10}, {ID: 11}}
	evs := RunEvents(run, []audit.Event{{Action: "run.completed"}, {Action: "x", RunID: 1, RuleID: "other"}}, revs,
		func(r store.Revocation) audit.Event {
			if r.ID == 11 {
				return audit.Event{Action: "revocation.scheduled", RevocationID: 99}
			}
			return audit.Event{Action: "revocation.scheduled"}
		})
	want := []audit.Event{
		{Action: "run.completed", RunID: 7, RuleID: "leavers"},
		{Action: "x", RunID: 1, RuleID: "other"},
		{Action: "revocation.scheduled", RunID: 7, RevocationID: 10},
		{Action: "revocation.scheduled", RunID: 7, RevocationID: 99},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i := range want {
		if evs[i].Action != want[i].Action || evs[i].RunID != want[i].RunID || evs[i].RuleID != want[i].RuleID ||
			evs[i].RevocationID != want[i].RevocationID {
			t.Errorf("event %d = %+v, want %+v", i, evs[i], want[i])
		}
	}
	if got := RunEvents(run, nil, revs, nil); len(got) != 0 {
		t.Fatalf("no events and no RevocationEvent: %d events", len(got))
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 10, 0, 0, 1, time.FixedZone("X", 3600))
	ids, ats, err := Matches(map[string]time.Time{"hr/b": at, "hr/a": at})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != "hr/a" || ids[1] != "hr/b" || ats[0].Location() != time.UTC || ats[0].Nanosecond() != 0 {
		t.Fatalf("Matches = %v, %v", ids, ats)
	}
	if _, _, err := Matches(map[string]time.Time{"hr/a": {}}); err == nil {
		t.Fatal("a zero first-match time passed")
	}
}

func TestPrepareRevocation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	seen := time.Date(2026, 4, 1, 10, 0, 0, 1, time.FixedZone("X", 3600))
	r := store.Revocation{AccountID: "a", Before: &account.Account{NativeID: "a", SeenAt: seen}}
	before, err := PrepareRevocation(&r, store.Run{ID: 7, RuleID: "leavers"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.RunID != 7 || r.RuleID != "leavers" || r.State != store.Scheduled || !r.CreatedAt.Equal(now) ||
		!r.UpdatedAt.Equal(now) || !r.DueAt.IsZero() {
		t.Fatalf("prepared %+v", r)
	}
	var back store.Revocation
	if err := DecodeBefore(&back, before.(string)); err != nil {
		t.Fatal(err)
	}
	if !back.Before.SeenAt.Equal(seen.Truncate(time.Microsecond)) || back.Before.SeenAt.Location() != time.UTC {
		t.Fatalf("before read back %+v", back.Before)
	}
	if before, _ := PrepareRevocation(&store.Revocation{}, store.Run{}, now); before != nil {
		t.Fatalf("no Before stored as %v", before)
	}
}

func TestRevocationAssignments(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	due, attempts, msg := now.Add(time.Hour), 2, "timeout"
	for _, tc := range []struct {
		name string
		u    store.RevocationUpdate
		want []string
	}{
		{"nothing", store.RevocationUpdate{}, []string{"updated_at"}},
		{"retry", store.RevocationUpdate{State: store.Scheduled, DueAt: &due, Attempts: &attempts, LastError: &msg,
			Unqueue: true}, []string{"updated_at", "state", "due_at", "attempts", "last_error", "queued"}},
		{"done", store.RevocationUpdate{State: store.Succeeded, Result: &msg, FinishedAt: &now,
			Before: &account.Account{NativeID: "a"}}, []string{"updated_at", "state", "result", "finished_at", "before_account"}},
		{"cancel", store.RevocationUpdate{State: store.Cancelled, CancelReason: &msg},
			[]string{"updated_at", "state", "cancel_reason"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			as, err := RevocationAssignments(tc.u, now)
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, a := range as {
				cols = append(cols, a.Column)
				if a.Column == "queued" && a.Value != false {
					t.Errorf("queued = %v", a.Value)
				}
			}
			if len(cols) != len(tc.want) {
				t.Fatalf("columns %v, want %v", cols, tc.want)
			}
			for i := range cols {
				if cols[i] != tc.want[i] {
					t.Fatalf("columns %v, want %v", cols, tc.want)
				}
			}
			if as[0].Value != now {
				t.Fatalf("updated_at = %v", as[0].Value)
			}
		})
	}
}

func TestRevocationEvent(t *testing.T) {
	t.Parallel()
	r := store.Revocation{ID: 10, RunID: 7, RuleID: "leavers", IdentityID: "hr/a", ApplicationID: "ldap"}
	ev := RevocationEvent(audit.Event{Action: "revocation.succeeded", RuleID: "own"}, r)
	if ev.RevocationID != 10 || ev.RunID != 7 || ev.RuleID != "own" || ev.IdentityID != "hr/a" || ev.ApplicationID != "ldap" {
		t.Fatalf("event %+v", ev)
	}
}
