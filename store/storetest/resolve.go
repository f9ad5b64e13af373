package storetest

import (
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

var quarantined = []store.RunState{store.RunQuarantined}

// quarantinedRun stores a quarantined run of ruleID with nothing scheduled.
func quarantinedRun(t *testing.T, s store.Store, ruleID string) store.Run {
	t.Helper()
	r := newRun(ruleID)
	r.State = store.RunQuarantined
	must(t, s.CreateRun(t.Context(), store.CreateRunParams{Run: r, Events: []audit.Event{event("run.quarantined")}}))
	return *r
}

// testResolveRunApprove: the run moves state and, in the same call, its
// revocations are scheduled under it (RunID the run's, ids handed back),
// its matches recorded (existing first-match times kept), and its events
// appended like CreateRun's: p.Events naming the run and its rule, then
// one RevocationEvent per revocation naming the run and the revocation.
func testResolveRunApprove(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("terminated"),
		Matches: map[string]time.Time{"hr/a": at(-48 * time.Hour)}}))
	run := quarantinedRun(t, s, "terminated")

	noRule := rev("", "hr/b", "erp", "e-1", account.Delete) // RuleID "" is the run's rule
	var seen []store.Revocation
	p := store.ResolveRunParams{
		ID: run.ID, From: []store.RunState{store.RunCompleted, store.RunQuarantined}, To: store.RunApproved,
		Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable), noRule},
		Matches:     map[string]time.Time{"hr/a": at(0), "hr/b": at(0)},
		Events:      []audit.Event{event("run.approved")},
		RevocationEvent: func(r store.Revocation) audit.Event {
			seen = append(seen, r)
			ev := event("revocation.scheduled")
			ev.IdentityID = r.IdentityID
			return ev
		},
	}
	got, err := s.ResolveRun(ctx, p)
	must(t, err)
	want := run
	want.State = store.RunApproved
	equal(t, "returned run", got, want)
	stored, err := s.Run(ctx, run.ID)
	must(t, err)
	equal(t, "stored run", stored, want)

	revs := p.Revocations
	if revs[0].ID <= 0 || revs[1].ID <= revs[0].ID {
		t.Fatalf("revocation ids %d, %d: want assigned, increasing", revs[0].ID, revs[1].ID)
	}
	for i, r := range revs {
		equal(t, "revocation run", r.RunID, run.ID)
		equal(t, "revocation rule", r.RuleID, "terminated")
		equal(t, "revocation state", r.State, store.Scheduled)
		stored, err := s.Revocation(ctx, r.ID)
		must(t, err)
		equal(t, "stored revocation", stored, r)
		equal(t, "callback saw the stored revocation", seen[i], r)
	}
	listed, err := s.ListRevocations(ctx, store.RevocationQuery{RunID: run.ID})
	must(t, err)
	equal(t, "revocations of the run", revocationIDs(listed), revocationIDs(revs))

	m, err := s.Matches(ctx, "terminated", []string{"hr/a", "hr/b"})
	must(t, err)
	equal(t, "matches", m, map[string]time.Time{"hr/a": at(-48 * time.Hour), "hr/b": at(0)})

	evs, err := s.ListAudit(ctx, store.AuditQuery{RunID: run.ID})
	must(t, err)
	equal(t, "run events", len(evs), 4)
	equal(t, "quarantine event", evs[0].Action, "run.quarantined")
	equal(t, "approval event", [3]any{evs[1].Action, evs[1].RunID, evs[1].RuleID}, [3]any{"run.approved", run.ID, "terminated"})
	for i, ev := range evs[2:] {
		equal(t, "revocation event", [4]any{ev.Action, ev.RunID, ev.RevocationID, ev.IdentityID},
			[4]any{"revocation.scheduled", run.ID, revs[i].ID, revs[i].IdentityID})
	}
}

// testResolveRunReject: rejecting schedules nothing and appends its event.
func testResolveRunReject(t *testing.T, s store.Store) {
	ctx := t.Context()
	run := quarantinedRun(t, s, "terminated")
	got, err := s.ResolveRun(ctx, store.ResolveRunParams{ID: run.ID, From: quarantined, To: store.RunRejected,
		Events: []audit.Event{event("run.rejected")}})
	must(t, err)
	equal(t, "state", got.State, store.RunRejected)
	all, err := s.ListRevocations(ctx, store.RevocationQuery{})
	must(t, err)
	equal(t, "revocations", len(all), 0)
	ev := lastEvent(t, s)
	equal(t, "event", [3]any{ev.Action, ev.RunID, ev.RuleID}, [3]any{"run.rejected", run.ID, "terminated"})

	_, err = s.ResolveRun(ctx, store.ResolveRunParams{ID: 4711, From: quarantined, To: store.RunApproved})
	wantErr(t, err, store.ErrNotFound, "ResolveRun of a missing run")
}

// resolveLeavesNothing checks that a failed ResolveRun left the run in
// state, scheduled nothing, recorded no match and appended no event.
func resolveLeavesNothing(t *testing.T, s store.Store, name string, p store.ResolveRunParams, state store.RunState, revocations, events int) {
	t.Helper()
	ctx := t.Context()
	for i, r := range p.Revocations {
		if r.ID != 0 || r.RunID != 0 {
			t.Fatalf("%s: revocation %d handed back id %d, run %d", name, i, r.ID, r.RunID)
		}
	}
	stored, err := s.Run(ctx, p.ID)
	must(t, err)
	equal(t, name+": run state", stored.State, state)
	all, err := s.ListRevocations(ctx, store.RevocationQuery{})
	must(t, err)
	equal(t, name+": revocations", len(all), revocations)
	m, err := s.Matches(ctx, "terminated", []string{"hr/new"})
	must(t, err)
	equal(t, name+": matches", len(m), 0)
	equal(t, name+": events", auditLen(t, s), events)
}

// testResolveRunConflict: a run not in p.From is ErrConflict, and nothing
// of the call is scheduled, recorded or appended.
func testResolveRunConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	run := quarantinedRun(t, s, "terminated")
	approve := func() store.ResolveRunParams {
		return store.ResolveRunParams{ID: run.ID, From: quarantined, To: store.RunApproved,
			Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
			Matches:     map[string]time.Time{"hr/new": at(0)},
			Events:      []audit.Event{event("run.approved")},
			RevocationEvent: func(store.Revocation) audit.Event {
				return event("revocation.scheduled")
			}}
	}
	first := approve()
	first.Matches = map[string]time.Time{"hr/a": at(0)}
	_, err := s.ResolveRun(ctx, first)
	must(t, err)
	events := auditLen(t, s)

	// A second approval (another operator, another node) loses.
	m := approve()
	m.Revocations = []store.Revocation{rev("terminated", "hr/z", "crm", "c-9", account.Disable)}
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("other")})) // unrelated activity in between
	_, err = s.ResolveRun(ctx, m)
	wantErr(t, err, store.ErrConflict, "ResolveRun of a run already approved")
	resolveLeavesNothing(t, s, "second approval", m, store.RunApproved, 1, events)

	_, err = s.ResolveRun(ctx, store.ResolveRunParams{ID: run.ID, To: store.RunRejected})
	wantErr(t, err, store.ErrConflict, "ResolveRun from no state")
}

// testResolveRunDuplicate: a revocation already active fails the whole
// call with ErrConflict; the run stays quarantined.
func testResolveRunDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRun(t, s, "terminated", rev("terminated", "hr/a", "crm", "c-1", account.Disable))
	run := quarantinedRun(t, s, "terminated")
	events := auditLen(t, s)
	for name, revs := range map[string][]store.Revocation{
		"already active": {
			rev("terminated", "hr/b", "crm", "c-2", account.Disable),
			rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
		"twice in one call": {
			rev("terminated", "hr/c", "crm", "c-3", account.Disable),
			rev("terminated", "hr/c", "crm", "c-3", account.Disable)},
	} {
		p := store.ResolveRunParams{ID: run.ID, From: quarantined, To: store.RunApproved, Revocations: revs,
			Matches: map[string]time.Time{"hr/new": at(0)}, Events: []audit.Event{event("run.approved")}}
		_, err := s.ResolveRun(ctx, p)
		wantErr(t, err, store.ErrConflict, name)
		resolveLeavesNothing(t, s, name, p, store.RunQuarantined, 1, events)
	}
}

func testResolveRunAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	run := quarantinedRun(t, s, "terminated")
	events := auditLen(t, s)
	p := store.ResolveRunParams{ID: run.ID, From: quarantined, To: store.RunApproved,
		Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
		Matches:     map[string]time.Time{"hr/new": at(0)},
		Events:      []audit.Event{event("run.approved")},
		RevocationEvent: func(store.Revocation) audit.Event {
			return unmarshalable("revocation.scheduled")
		}}
	if _, err := s.ResolveRun(ctx, p); err == nil {
		t.Fatal("ResolveRun with an event that cannot be stored succeeded")
	}
	resolveLeavesNothing(t, s, "failed event", p, store.RunQuarantined, 0, events)
}
