package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/store"
)

var runTests = []test{
	{"CreateAssignsIDs", testCreateRunIDs},
	{"CreateRevocationEvents", testCreateRunRevocationEvents},
	{"RunRoundTrip", testRunRoundTrip},
	{"RunNotFound", testRunNotFound},
	{"Matches", testMatches},
	{"DuplicateActiveConflicts", testCreateRunConflict},
	{"SameKeyAfterFinish", testCreateRunAfterFinish},
	{"OneRunPerFireTime", testCreateRunFireTime},
	{"OneRunPerFireTimeConcurrent", testCreateRunFireTimeConcurrent},
	{"ListRuns", testListRuns},
	{"CountRuns", testCountRuns},
	{"UpdateRunState", testUpdateRunState},
	{"ResolveApprove", testResolveRunApprove},
	{"ResolveReject", testResolveRunReject},
	{"ResolveConflict", testResolveRunConflict},
	{"ResolveDuplicateActive", testResolveRunDuplicate},
	{"ResolveAtomic", testResolveRunAtomic},
}

func newRun(ruleID string) *store.Run {
	return &store.Run{
		RuleID: ruleID, Trigger: "manual", Actor: "cli:alice", State: store.RunCompleted,
		StartedAt: t0, FinishedAt: t0.Add(1500 * time.Millisecond),
		Counts: rule.Counts{Evaluated: 10, InScope: 8, Matched: 2, Planned: 2, Skipped: 1, Users: 2},
		Items: []rule.Item{
			{IdentityID: "hr/a", UserName: "a", ApplicationID: "crm", AccountID: "c-1", AccountName: "a",
				Action: account.Disable, Reason: "status Terminated", DueAt: at(14 * 24 * time.Hour)},
			{IdentityID: "hr/b", UserName: "b", ApplicationID: "erp", Skip: rule.SkipExcluded, Reason: "legal hold"},
		},
	}
}

func rev(ruleID, identityID, app, accountID string, act account.Action) store.Revocation {
	return store.Revocation{
		RuleID: ruleID, IdentityID: identityID, UserName: "user-" + accountID, ApplicationID: app,
		AccountID: accountID, AccountName: "name-" + accountID, Action: act, State: store.Scheduled,
		DueAt: at(14 * 24 * time.Hour), CreatedAt: at(time.Second), UpdatedAt: at(time.Second),
	}
}

// createRun stores a run of ruleID with revs and events and returns it.
func createRun(t *testing.T, s store.Store, ruleID string, revs ...store.Revocation) (*store.Run, []store.Revocation) {
	t.Helper()
	p := store.CreateRunParams{Run: newRun(ruleID), Revocations: revs, Events: []audit.Event{event("run.completed")}}
	must(t, s.CreateRun(t.Context(), p))
	return p.Run, p.Revocations
}

func testCreateRunIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	r1, revs := createRun(t, s, "terminated",
		rev("terminated", "hr/a", "crm", "c-1", account.Disable),
		rev("terminated", "hr/a", "erp", "e-1", account.Delete))
	if r1.ID <= 0 {
		t.Fatalf("run id %d", r1.ID)
	}
	if revs[0].ID <= 0 || revs[1].ID <= revs[0].ID {
		t.Fatalf("revocation ids %d, %d: want increasing from 1", revs[0].ID, revs[1].ID)
	}
	for _, r := range revs {
		equal(t, "revocation run id", r.RunID, r1.ID)
		got, err := s.Revocation(ctx, r.ID)
		must(t, err)
		equal(t, "stored revocation", got, r)
	}
	r2, _ := createRun(t, s, "terminated")
	if r2.ID <= r1.ID {
		t.Fatalf("second run id %d, want after %d", r2.ID, r1.ID)
	}
	// The run's events name it, though the caller could not know its id.
	evs, err := s.ListAudit(ctx, store.AuditQuery{RunID: r1.ID})
	must(t, err)
	equal(t, "run events", len(evs), 1)
	equal(t, "run event rule", evs[0].RuleID, "terminated")
}

func testRunRoundTrip(t *testing.T, s store.Store) {
	want, _ := createRun(t, s, "terminated")
	got, err := s.Run(t.Context(), want.ID)
	must(t, err)
	equal(t, "run", got, *want)
	equal(t, "items", got.Items, newRun("terminated").Items)
	equal(t, "started", got.StartedAt, at(0))

	failed := &store.Run{RuleID: "terminated", Trigger: "schedule", Actor: "scheduler", State: store.RunFailed,
		StartedAt: t0, Error: "hook: timeout"}
	must(t, s.CreateRun(t.Context(), store.CreateRunParams{Run: failed}))
	got, err = s.Run(t.Context(), failed.ID)
	must(t, err)
	equal(t, "failed run", got, *failed)
	if !got.FinishedAt.IsZero() || got.Items != nil {
		t.Fatalf("failed run came back with %#v", got)
	}
}

func testRunNotFound(t *testing.T, s store.Store) {
	_, err := s.Run(t.Context(), 4711)
	wantErr(t, err, store.ErrNotFound, "Run of a missing id")
}

func testMatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, later := at(-48*time.Hour), at(0)
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("terminated"),
		Matches: map[string]time.Time{"hr/a": first, "hr/b": first, "hr/c": first}}))
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("contractors"),
		Matches: map[string]time.Time{"hr/a": later}}))

	got, err := s.Matches(ctx, "terminated", []string{"hr/a", "hr/b", "hr/x"})
	must(t, err)
	equal(t, "first matches", got, map[string]time.Time{"hr/a": first, "hr/b": first})

	// A later run keeps first-match times and forgets the unmatched.
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("terminated"),
		Matches:   map[string]time.Time{"hr/a": later, "hr/d": later},
		Unmatched: []string{"hr/b", "hr/never"}}))
	got, err = s.Matches(ctx, "terminated", []string{"hr/a", "hr/b", "hr/c", "hr/d"})
	must(t, err)
	equal(t, "after second run", got, map[string]time.Time{"hr/a": first, "hr/c": first, "hr/d": later})

	// nil asks for every identity the rule still matches.
	got, err = s.Matches(ctx, "terminated", nil)
	must(t, err)
	equal(t, "all matches", got, map[string]time.Time{"hr/a": first, "hr/c": first, "hr/d": later})
	got, err = s.Matches(ctx, "contractors", nil)
	must(t, err)
	equal(t, "other rule", got, map[string]time.Time{"hr/a": later})
	got, err = s.Matches(ctx, "terminated", []string{})
	must(t, err)
	equal(t, "no identities", len(got), 0)

	// Many identities at once.
	many := map[string]time.Time{}
	var ids []string
	for i := range 1100 {
		many[keyN("big", i)] = first
		ids = append(ids, keyN("big", i))
	}
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("terminated"), Matches: many}))
	got, err = s.Matches(ctx, "terminated", ids)
	must(t, err)
	equal(t, "many matches", got, many)
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("terminated"), Unmatched: ids}))
	got, err = s.Matches(ctx, "terminated", ids)
	must(t, err)
	equal(t, "many forgotten", len(got), 0)
}

func testCreateRunConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRun(t, s, "terminated", rev("terminated", "hr/a", "crm", "c-1", account.Disable))
	runsBefore, eventsBefore := len(listRuns(t, s, store.RunQuery{})), auditLen(t, s)

	check := func(name string, revs ...store.Revocation) {
		t.Helper()
		p := store.CreateRunParams{Run: newRun("terminated"), Revocations: revs,
			Matches: map[string]time.Time{"hr/new": at(0)}, Events: []audit.Event{event("run.completed")}}
		wantErr(t, s.CreateRun(ctx, p), store.ErrConflict, name)
		equal(t, name+": run id left unset", p.Run.ID, int64(0))
		equal(t, name+": runs", len(listRuns(t, s, store.RunQuery{})), runsBefore)
		equal(t, name+": events", auditLen(t, s), eventsBefore)
		m, err := s.Matches(ctx, "terminated", []string{"hr/new"})
		must(t, err)
		equal(t, name+": matches", len(m), 0)
		all, err := s.ListRevocations(ctx, store.RevocationQuery{})
		must(t, err)
		equal(t, name+": revocations", len(all), 1)
	}
	check("same key scheduled",
		rev("terminated", "hr/b", "crm", "c-2", account.Disable), // fine on its own
		rev("terminated", "hr/a", "crm", "c-1", account.Disable))
	check("twice in one call",
		rev("terminated", "hr/c", "crm", "c-3", account.Disable),
		rev("terminated", "hr/c", "crm", "c-3", account.Disable))

	// A different action, account, application or rule is another revocation.
	createRun(t, s, "terminated",
		rev("terminated", "hr/a", "crm", "c-1", account.Revoke),
		rev("terminated", "hr/a", "crm", "c-9", account.Disable),
		rev("terminated", "hr/a", "erp", "c-1", account.Disable),
		rev("contractors", "hr/a", "crm", "c-1", account.Disable))
}

func testCreateRunAfterFinish(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := rev("terminated", "hr/a", "crm", "c-1", account.Disable)
	scheduled := []store.RevocationState{store.Scheduled}
	for _, tc := range []struct {
		state store.RevocationState
		again bool
	}{
		{store.Running, false},
		{store.Waiting, false},
		{store.Succeeded, true},
	} {
		_, revs := createRun(t, s, "terminated", key)
		_, err := s.UpdateRevocation(ctx, revs[0].ID, scheduled, store.RevocationUpdate{State: tc.state}, event("revocation."+string(tc.state)))
		must(t, err)
		err = s.CreateRun(ctx, store.CreateRunParams{Run: newRun("terminated"), Revocations: []store.Revocation{key}})
		if tc.again {
			must(t, err)
			continue
		}
		wantErr(t, err, store.ErrConflict, "same key while "+string(tc.state))
		// Finish it so that the next case starts clean.
		_, err = s.UpdateRevocation(ctx, revs[0].ID, []store.RevocationState{tc.state}, store.RevocationUpdate{State: store.Cancelled}, event("revocation.cancelled"))
		must(t, err)
	}
	// Once cancelled or failed, the key is free again.
	for _, end := range []store.RevocationState{store.Cancelled, store.Failed} {
		active, err := s.ListRevocations(ctx, store.RevocationQuery{States: store.Active})
		must(t, err)
		equal(t, "active revocations", len(active), 1)
		_, err = s.UpdateRevocation(ctx, active[0].ID, store.Active, store.RevocationUpdate{State: end}, event("revocation."+string(end)))
		must(t, err)
		createRun(t, s, "terminated", key)
	}
}

func listRuns(t *testing.T, s store.Store, q store.RunQuery) []store.Run {
	t.Helper()
	rs, err := s.ListRuns(t.Context(), q)
	must(t, err)
	return rs
}

func runIDs(rs []store.Run) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// keptRun is newRun as a store gives it back in lists.
func keptRun(ruleID string) store.Run {
	r := *newRun(ruleID)
	r.StartedAt, r.FinishedAt, r.Items = at(0), at(1500*time.Millisecond), nil
	return r
}

func testListRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids, quarantined []int64
	for i := range 55 {
		r := newRun("terminated")
		if i%10 == 0 {
			r.RuleID, r.State = "contractors", store.RunQuarantined
		}
		must(t, s.CreateRun(ctx, store.CreateRunParams{Run: r}))
		ids = append(ids, r.ID)
		if r.State == store.RunQuarantined {
			quarantined = append(quarantined, r.ID)
		}
	}
	slices.Reverse(ids)
	slices.Reverse(quarantined)

	all := listRuns(t, s, store.RunQuery{})
	equal(t, "default page", runIDs(all), ids[:50])
	for _, r := range all {
		want := keptRun(r.RuleID)
		want.ID, want.State = r.ID, r.State
		equal(t, "listed run (no items)", r, want)
	}
	equal(t, "before", runIDs(listRuns(t, s, store.RunQuery{Before: ids[49], Limit: 10})), ids[50:])
	equal(t, "limit", runIDs(listRuns(t, s, store.RunQuery{Limit: 3})), ids[:3])
	equal(t, "rule", runIDs(listRuns(t, s, store.RunQuery{RuleID: "contractors"})), quarantined)
	equal(t, "state", runIDs(listRuns(t, s, store.RunQuery{State: store.RunQuarantined})), quarantined)
	equal(t, "rule and before", runIDs(listRuns(t, s, store.RunQuery{RuleID: "contractors", Before: quarantined[1]})), quarantined[2:])
	equal(t, "no match", len(listRuns(t, s, store.RunQuery{RuleID: "nope"})), 0)
}

func testUpdateRunState(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRun("terminated")
	r.State = store.RunQuarantined
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: r}))
	quarantined := []store.RunState{store.RunQuarantined}

	got, err := s.UpdateRunState(ctx, r.ID, quarantined, store.RunApproved, event("run.approved"))
	must(t, err)
	equal(t, "returned state", got.State, store.RunApproved)
	equal(t, "returned id", got.ID, r.ID)
	stored, err := s.Run(ctx, r.ID)
	must(t, err)
	equal(t, "stored state", stored.State, store.RunApproved)
	ev := lastEvent(t, s)
	equal(t, "event", [2]any{ev.Action, ev.RunID}, [2]any{"run.approved", r.ID})

	events := auditLen(t, s)
	_, err = s.UpdateRunState(ctx, r.ID, quarantined, store.RunRejected, event("run.rejected"))
	wantErr(t, err, store.ErrConflict, "UpdateRunState from a state the run is not in")
	stored, err = s.Run(ctx, r.ID)
	must(t, err)
	equal(t, "state after conflict", stored.State, store.RunApproved)
	equal(t, "events after conflict", auditLen(t, s), events)

	_, err = s.UpdateRunState(ctx, 4711, quarantined, store.RunApproved, event("run.approved"))
	wantErr(t, err, store.ErrNotFound, "UpdateRunState of a missing run")

	_, err = s.UpdateRunState(ctx, r.ID, []store.RunState{store.RunApproved}, store.RunCompleted, unmarshalable("run.completed"))
	if err == nil {
		t.Fatal("UpdateRunState with an event that cannot be stored succeeded")
	}
	stored, err = s.Run(ctx, r.ID)
	must(t, err)
	equal(t, "state after failed update", stored.State, store.RunApproved)
}

// testCreateRunRevocationEvents: RevocationEvent is called once per
// revocation with its id assigned, and its events follow p.Events in the
// same chain.
func testCreateRunRevocationEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	var seen []int64
	p := store.CreateRunParams{Run: newRun("terminated"),
		Revocations: []store.Revocation{
			rev("terminated", "hr/a", "crm", "c-1", account.Disable),
			rev("terminated", "hr/b", "crm", "c-2", account.Disable),
		},
		Events: []audit.Event{event("run.completed")},
		RevocationEvent: func(r store.Revocation) audit.Event {
			seen = append(seen, r.ID)
			ev := event("revocation.scheduled")
			ev.IdentityID = r.IdentityID
			return ev
		},
	}
	must(t, s.CreateRun(ctx, p))
	equal(t, "callbacks", len(seen), 2)
	evs, err := s.ListAudit(ctx, store.AuditQuery{RunID: p.Run.ID})
	must(t, err)
	equal(t, "events", len(evs), 3)
	equal(t, "first event", evs[0].Action, "run.completed")
	for i, ev := range evs[1:] {
		equal(t, "revocation event action", ev.Action, "revocation.scheduled")
		equal(t, "revocation event id", ev.RevocationID, p.Revocations[i].ID)
		equal(t, "revocation event identity", ev.IdentityID, p.Revocations[i].IdentityID)
		if seen[i] != p.Revocations[i].ID || seen[i] <= 0 {
			t.Fatalf("callback saw id %d, want %d", seen[i], p.Revocations[i].ID)
		}
	}
}

func scheduledRun(ruleID string, fire time.Time) *store.Run {
	r := newRun(ruleID)
	r.Trigger, r.Actor, r.FireAt = "schedule", "scheduler", fire
	return r
}

func testCreateRunFireTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	fire := at(time.Hour).Add(123456789 * time.Nanosecond) // kept at µs
	first := store.CreateRunParams{Run: scheduledRun("terminated", fire),
		Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
		Events:      []audit.Event{event("run.completed")}}
	must(t, s.CreateRun(ctx, first))
	equal(t, "fire time kept", first.Run.FireAt, fire.Truncate(time.Microsecond))
	got, err := s.Run(ctx, first.Run.ID)
	must(t, err)
	equal(t, "fire time read back", got.FireAt, first.Run.FireAt)
	runsBefore, eventsBefore := len(listRuns(t, s, store.RunQuery{})), auditLen(t, s)

	// The same rule and fire time again (a job taken up again after a
	// crash): nothing is stored, and the error holds the first run.
	again := store.CreateRunParams{Run: scheduledRun("terminated", fire),
		Revocations: []store.Revocation{rev("terminated", "hr/b", "crm", "c-2", account.Disable)},
		Matches:     map[string]time.Time{"hr/new": at(0)}, Events: []audit.Event{event("run.completed")}}
	err = s.CreateRun(ctx, again)
	var exists *store.RunExistsError
	if !errors.As(err, &exists) {
		t.Fatalf("second run for one fire time: err = %v, want a RunExistsError", err)
	}
	equal(t, "existing run id", exists.Run.ID, first.Run.ID)
	equal(t, "existing run fire time", exists.Run.FireAt, first.Run.FireAt)
	equal(t, "second run id left unset", again.Run.ID, int64(0))
	equal(t, "runs", len(listRuns(t, s, store.RunQuery{})), runsBefore)
	equal(t, "events", auditLen(t, s), eventsBefore)
	m, err := s.Matches(ctx, "terminated", []string{"hr/new"})
	must(t, err)
	equal(t, "matches", len(m), 0)
	revs, err := s.ListRevocations(ctx, store.RevocationQuery{})
	must(t, err)
	equal(t, "revocations", len(revs), 1)

	// Another fire time, another rule, or no fire time at all is a run.
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: scheduledRun("terminated", fire.Add(time.Minute))}))
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: scheduledRun("contractors", fire)}))
	createRun(t, s, "terminated")
	createRun(t, s, "terminated")
	equal(t, "runs after", len(listRuns(t, s, store.RunQuery{})), runsBefore+4)
}

// testCreateRunFireTimeConcurrent: callers that create one fire time's run
// at once store it once; the others get the stored run back.
func testCreateRunFireTimeConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	fire := at(2 * time.Hour)
	const n = 8
	var wg sync.WaitGroup
	ids := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			p := store.CreateRunParams{Run: scheduledRun("terminated", fire), Events: []audit.Event{event("run.completed")}}
			errs[i] = s.CreateRun(ctx, p)
			ids[i] = p.Run.ID
			var exists *store.RunExistsError
			if errors.As(errs[i], &exists) {
				ids[i], errs[i] = exists.Run.ID, nil
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		equal(t, "run id", ids[i], ids[0])
	}
	equal(t, "runs", len(listRuns(t, s, store.RunQuery{RuleID: "terminated"})), 1)
}

func testCountRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	n, err := s.CountRuns(ctx)
	must(t, err)
	equal(t, "empty", len(n), 0)
	for i := range 5 {
		r := newRun("terminated")
		if i%2 == 0 {
			r.State = store.RunQuarantined
		}
		must(t, s.CreateRun(ctx, store.CreateRunParams{Run: r}))
	}
	createRun(t, s, "contractors")
	n, err = s.CountRuns(ctx)
	must(t, err)
	equal(t, "counts", n, []store.RunCount{
		{RuleID: "contractors", State: store.RunCompleted, N: 1},
		{RuleID: "terminated", State: store.RunCompleted, N: 2},
		{RuleID: "terminated", State: store.RunQuarantined, N: 3},
	})
}
