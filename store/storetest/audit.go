package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

var auditTests = []test{
	{"ChainAcrossMethods", testAuditChain},
	{"RoundTrip", testAuditRoundTrip},
	{"ZeroTimeGetsClock", testAuditZeroTime},
	{"AppendAtomic", testAppendAtomic},
	{"ConcurrentAppends", testAuditConcurrent},
	{"ListFilters", testListAudit},
}

// verifyChain checks that evs are the whole chain, each event linked to
// the one before and hashing to its Hash as read back.
func verifyChain(t *testing.T, evs []audit.Event) {
	t.Helper()
	prev := ""
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i+1, e.Seq)
		}
		if e.PrevHash != prev {
			t.Fatalf("event %d (%s): PrevHash %q, want %q", e.Seq, e.Action, e.PrevHash, prev)
		}
		if h := audit.ComputeHash(e); h != e.Hash {
			t.Fatalf("event %d (%s) read back hashes to %s, stored hash %s", e.Seq, e.Action, h, e.Hash)
		}
		prev = e.Hash
	}
}

func testAuditChain(t *testing.T, s store.Store) {
	ctx := t.Context()
	seq, hash, err := s.AuditHead(ctx)
	must(t, err)
	equal(t, "head of an empty chain", [2]any{seq, hash}, [2]any{int64(0), ""})
	must(t, s.ApplyConfig(ctx, fullConfig(), store.AnyVersion, event("config.applied")))
	syncIDs(t, s, "hr", person("hr", "a", "Terminated"))
	replace(t, s, "crm", acct("crm", "c-1", "hr/a"))
	p := store.CreateRunParams{Run: newRun("terminated"),
		Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
		Events:      []audit.Event{event("run.completed"), event("revocation.scheduled")}}
	must(t, s.CreateRun(ctx, p))
	_, err = s.UpdateRevocation(ctx, p.Revocations[0].ID, scheduled, store.RevocationUpdate{State: store.Running}, event("revocation.started"))
	must(t, err)
	_, err = s.UpdateRunState(ctx, p.Run.ID, []store.RunState{store.RunCompleted}, store.RunCompleted, event("run.noted"))
	must(t, err)
	must(t, s.AppendAudit(ctx, event("a.1"), event("a.2"), event("a.3")))
	must(t, s.AppendAudit(ctx))

	evs, err := s.ListAudit(ctx, store.AuditQuery{})
	must(t, err)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	equal(t, "actions in commit order", actions, []string{"config.applied", "source.synced", "application.aggregated",
		"run.completed", "revocation.scheduled", "revocation.started", "run.noted", "a.1", "a.2", "a.3"})
	verifyChain(t, evs)
	seq, hash, err = s.AuditHead(ctx)
	must(t, err)
	last := evs[len(evs)-1]
	equal(t, "head", [2]any{seq, hash}, [2]any{last.Seq, last.Hash})
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := audit.Event{
		Time:  time.Date(2026, 3, 2, 10, 30, 15, 123456789, time.FixedZone("CET", 3600)),
		Actor: "cli:alice", Action: "revocation.failed", RuleID: "terminated", RunID: 7, RevocationID: 42,
		IdentityID: "hr/a", ApplicationID: "crm", Message: `disable "a" in crm: 503 <html> & more`,
		Detail: map[string]any{
			"attempts": 3, "ratio": 0.25, "reason": "Zoë's account", "retry": true, "none": nil,
			"big":    int64(1) << 53,
			"groups": []string{"g1", "g2"},
			"before": map[string]any{"state": "active", "count": 2, "tags": []any{1, "x", false}},
		},
	}
	must(t, s.AppendAudit(ctx, in, audit.Event{Time: t0, Actor: "system", Action: "bare"}))
	evs, err := s.ListAudit(ctx, store.AuditQuery{})
	must(t, err)
	equal(t, "events", len(evs), 2)
	verifyChain(t, evs)

	got := evs[0]
	equal(t, "time", got.Time, in.Time.UTC().Truncate(time.Microsecond))
	if got.Time.Location() != time.UTC {
		t.Fatalf("time read back in %s, want UTC", got.Time.Location())
	}
	var wantDetail map[string]any
	b, _ := json.Marshal(in.Detail)
	must(t, json.Unmarshal(b, &wantDetail))
	equal(t, "detail (its JSON form)", got.Detail, wantDetail)
	got.Time, got.Detail, got.Seq, got.PrevHash, got.Hash = in.Time, in.Detail, 0, "", ""
	equal(t, "other fields", got, in)
	if len(evs[1].Detail) > 0 {
		t.Fatalf("empty detail read back as %#v", evs[1].Detail)
	}
}

func testAuditZeroTime(t *testing.T, s store.Store) {
	must(t, s.AppendAudit(t.Context(), audit.Event{Actor: "system", Action: "clock"}))
	ev := lastEvent(t, s)
	kept(t, "time of an event given none", ev.Time)
	verifyChain(t, []audit.Event{ev})
}

func testAppendAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.AppendAudit(ctx, event("first")))
	if err := s.AppendAudit(ctx, event("good"), unmarshalable("bad")); err == nil {
		t.Fatal("AppendAudit with an event that cannot be stored succeeded")
	}
	evs, err := s.ListAudit(ctx, store.AuditQuery{})
	must(t, err)
	equal(t, "events after failed append", len(evs), 1)
	must(t, s.AppendAudit(ctx, event("second")))
	evs, err = s.ListAudit(ctx, store.AuditQuery{})
	must(t, err)
	verifyChain(t, evs)
}

func testAuditConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for range each {
				if err := s.AppendAudit(ctx, event("concurrent"), event("concurrent")); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	evs, err := s.ListAudit(ctx, store.AuditQuery{})
	must(t, err)
	equal(t, "events", len(evs), writers*each*2)
	verifyChain(t, evs)
}

func testListAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(action string, d time.Duration, f func(*audit.Event)) audit.Event {
		e := audit.Event{Time: t0.Add(d), Actor: "storetest", Action: action}
		if f != nil {
			f(&e)
		}
		return e
	}
	must(t, s.AppendAudit(ctx,
		mk("run.completed", 0, func(e *audit.Event) { e.RuleID, e.RunID, e.IdentityID = "r1", 1, "hr/a" }),    // 1
		mk("revocation.succeeded", time.Hour, func(e *audit.Event) { e.RuleID, e.IdentityID = "r1", "hr/b" }), // 2
		mk("Run.odd", 2*time.Hour, func(e *audit.Event) { e.RuleID, e.RunID = "r2", 2 }),                      // 3
		mk("run_x", 3*time.Hour, nil), // 4
		mk("run%", 3*time.Hour, nil),  // 5
		mk("runner", 4*time.Hour, func(e *audit.Event) { e.IdentityID = "hr/a" }), // 6
	))
	for _, tc := range []struct {
		name string
		q    store.AuditQuery
		want []int64
	}{
		{"all", store.AuditQuery{}, []int64{1, 2, 3, 4, 5, 6}},
		{"rule", store.AuditQuery{RuleID: "r1"}, []int64{1, 2}},
		{"identity", store.AuditQuery{IdentityID: "hr/a"}, []int64{1, 6}},
		{"run", store.AuditQuery{RunID: 2}, []int64{3}},
		{"action prefix", store.AuditQuery{Action: "run"}, []int64{1, 4, 5, 6}},
		{"action prefix is case-sensitive", store.AuditQuery{Action: "run."}, []int64{1}},
		{"underscore is literal", store.AuditQuery{Action: "run_"}, []int64{4}},
		{"percent is literal", store.AuditQuery{Action: "run%"}, []int64{5}},
		{"whole action", store.AuditQuery{Action: "revocation.succeeded"}, []int64{2}},
		{"from is inclusive", store.AuditQuery{From: at(time.Hour)}, []int64{2, 3, 4, 5, 6}},
		{"to is exclusive", store.AuditQuery{To: at(3 * time.Hour)}, []int64{1, 2, 3}},
		{"from and to", store.AuditQuery{From: at(time.Hour), To: at(3 * time.Hour).Add(time.Nanosecond)}, []int64{2, 3, 4, 5}},
		{"from a nanosecond later", store.AuditQuery{From: at(time.Hour).Add(time.Nanosecond)}, []int64{3, 4, 5, 6}},
		{"from in another zone", store.AuditQuery{From: at(4 * time.Hour).In(time.FixedZone("PST", -8*3600))}, []int64{6}},
		{"after seq", store.AuditQuery{AfterSeq: 4}, []int64{5, 6}},
		{"limit", store.AuditQuery{Limit: 2}, []int64{1, 2}},
		{"after seq and limit", store.AuditQuery{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"combined", store.AuditQuery{RuleID: "r1", Action: "revocation.", From: at(0)}, []int64{2}},
	} {
		evs, err := s.ListAudit(ctx, tc.q)
		must(t, err)
		var got []int64
		for _, e := range evs {
			got = append(got, e.Seq)
		}
		equal(t, tc.name, got, tc.want)
	}
}
