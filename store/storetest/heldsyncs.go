package storetest

import (
	"testing"

	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

var heldSyncTests = []test{
	{"RoundTrip", testHeldSyncRoundTrip},
	{"NotFound", testHeldSyncNotFound},
	{"List", testListHeldSyncs},
	{"Resolve", testResolveHeldSync},
	{"Atomic", testHeldSyncAtomic},
}

// heldDelivery is a delivery of n identities of hr, two of them unusual.
func heldDelivery(t *testing.T, src string) []identity.Identity {
	t.Helper()
	a := person(src, "a", "Terminated")
	a.EndDate = endDate(t, "2026-11-30")
	b := person(src, "b", "Active")
	b.EndDate = endDate(t, "2026-11-30T17:00:00+01:00")
	b.Attributes = map[string]string{"note": "Zoë, 名前", "empty": ""}
	c := identity.Identity{SourceID: src, ExternalID: "c/with/slashes", UserName: "c"}
	return []identity.Identity{a, b, c}
}

func holdSync(t *testing.T, s store.Store, src, reason string) store.HeldSync {
	t.Helper()
	h := store.HeldSync{SourceID: src, Reason: reason, Identities: heldDelivery(t, src)}
	must(t, s.HoldSync(t.Context(), &h, event("source.held")))
	return h
}

// testHeldSyncRoundTrip: HoldSync assigns the id, starts the delivery
// pending at the store's clock with Rows the number of identities, names
// the id in its event (the caller cannot know it), and HeldSync gives the
// identities back.
func testHeldSyncRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := heldDelivery(t, "hr")
	h := store.HeldSync{SourceID: "hr", Reason: "would mark 3 of 4 identities leavers (limit 10%)", Identities: ids}
	must(t, s.HoldSync(ctx, &h, event("source.held")))
	if h.ID <= 0 {
		t.Fatalf("held sync id %d", h.ID)
	}
	equal(t, "state", h.State, store.HeldPending)
	equal(t, "rows", h.Rows, 3)
	kept(t, "CreatedAt", h.CreatedAt)

	got, err := s.HeldSync(ctx, h.ID)
	must(t, err)
	equal(t, "identities", len(got.Identities), len(ids))
	for i := range ids {
		sameIdentity(t, got.Identities[i], ids[i])
	}
	got.Identities, h.Identities = nil, nil
	equal(t, "held sync", got, h)

	ev := lastEvent(t, s)
	equal(t, "event", ev.Action, "source.held")
	equal(t, "event names the held sync", int64(detailInt(t, ev, "heldSyncId")), h.ID)

	// A given Rows and CreatedAt are kept; an empty delivery holds nothing.
	e := store.HeldSync{SourceID: "idp", Reason: "empty feed", Rows: 5000, CreatedAt: t0}
	must(t, s.HoldSync(ctx, &e, event("source.held")))
	if e.ID <= h.ID {
		t.Fatalf("second held sync id %d, want after %d", e.ID, h.ID)
	}
	got, err = s.HeldSync(ctx, e.ID)
	must(t, err)
	equal(t, "empty delivery", got, store.HeldSync{ID: e.ID, SourceID: "idp", State: store.HeldPending,
		Reason: "empty feed", Rows: 5000, CreatedAt: at(0)})
}

func testHeldSyncNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.HeldSync(ctx, 4711)
	wantErr(t, err, store.ErrNotFound, "HeldSync of a missing id")
	_, err = s.ResolveHeldSync(ctx, 4711, store.HeldApproved, "alice", event("source.approved"))
	wantErr(t, err, store.ErrNotFound, "ResolveHeldSync of a missing id")
	equal(t, "events", auditLen(t, s), 0)
}

func heldIDs(hs []store.HeldSync) []int64 {
	var out []int64
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

// testListHeldSyncs: newest first, without identities, filtered by source
// and state; a zero Limit lists all.
func testListHeldSyncs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := holdSync(t, s, "hr", "r1")
	b := holdSync(t, s, "idp", "r2")
	c := holdSync(t, s, "hr", "r3")
	_, err := s.ResolveHeldSync(ctx, a.ID, store.HeldRejected, "alice", event("source.rejected"))
	must(t, err)
	list := func(q store.HeldSyncQuery) []store.HeldSync {
		t.Helper()
		hs, err := s.ListHeldSyncs(ctx, q)
		must(t, err)
		return hs
	}
	all := list(store.HeldSyncQuery{})
	equal(t, "all", heldIDs(all), []int64{c.ID, b.ID, a.ID})
	for _, h := range all {
		if h.Identities != nil {
			t.Fatalf("listed held sync %d has identities", h.ID)
		}
		equal(t, "listed rows", h.Rows, 3)
	}
	c.Identities = nil
	equal(t, "listed held sync", all[0], c)
	equal(t, "source", heldIDs(list(store.HeldSyncQuery{SourceID: "hr"})), []int64{c.ID, a.ID})
	equal(t, "state", heldIDs(list(store.HeldSyncQuery{State: store.HeldPending})), []int64{c.ID, b.ID})
	equal(t, "source and state", heldIDs(list(store.HeldSyncQuery{SourceID: "hr", State: store.HeldRejected})), []int64{a.ID})
	equal(t, "limit", heldIDs(list(store.HeldSyncQuery{Limit: 2})), []int64{c.ID, b.ID})
	equal(t, "none", heldIDs(list(store.HeldSyncQuery{SourceID: "nope"})), []int64(nil))
}

// testResolveHeldSync: pending → approved or rejected, once
// (compare-and-set), recording who and when; the result carries the
// identities, for the caller to apply.
func testResolveHeldSync(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := holdSync(t, s, "hr", "leaver spike")
	got, err := s.ResolveHeldSync(ctx, h.ID, store.HeldApproved, "api:alice", event("source.approved"))
	must(t, err)
	equal(t, "state", got.State, store.HeldApproved)
	equal(t, "by", got.ResolvedBy, "api:alice")
	kept(t, "ResolvedAt", got.ResolvedAt)
	equal(t, "identities returned", len(got.Identities), 3)
	stored, err := s.HeldSync(ctx, h.ID)
	must(t, err)
	equal(t, "returned is stored", got, stored)
	equal(t, "event", lastEvent(t, s).Action, "source.approved")

	events := auditLen(t, s)
	for _, to := range []store.HeldSyncState{store.HeldApproved, store.HeldRejected} {
		_, err = s.ResolveHeldSync(ctx, h.ID, to, "api:bob", event("source.resolved"))
		wantErr(t, err, store.ErrConflict, "resolving a resolved delivery to "+string(to))
	}
	after, err := s.HeldSync(ctx, h.ID)
	must(t, err)
	equal(t, "after conflict", after, stored)
	equal(t, "events after conflict", auditLen(t, s), events)

	r := holdSync(t, s, "hr", "leaver spike")
	got, err = s.ResolveHeldSync(ctx, r.ID, store.HeldRejected, "api:bob", event("source.rejected"))
	must(t, err)
	equal(t, "rejected", [2]any{got.State, got.ResolvedBy}, [2]any{store.HeldRejected, "api:bob"})

	p := holdSync(t, s, "hr", "leaver spike")
	events = auditLen(t, s)
	for _, to := range []store.HeldSyncState{store.HeldPending, "", "applied"} {
		if _, err := s.ResolveHeldSync(ctx, p.ID, to, "api:bob", event("source.resolved")); err == nil {
			t.Fatalf("ResolveHeldSync to %q succeeded", to)
		}
	}
	after, err = s.HeldSync(ctx, p.ID)
	must(t, err)
	equal(t, "state after bad target", after.State, store.HeldPending)
	equal(t, "events after bad target", auditLen(t, s), events)
}

func testHeldSyncAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	h := store.HeldSync{SourceID: "hr", Reason: "r", Identities: heldDelivery(t, "hr")}
	if err := s.HoldSync(ctx, &h, unmarshalable("source.held")); err == nil {
		t.Fatal("HoldSync with an event that cannot be stored succeeded")
	}
	equal(t, "id left unset", h.ID, int64(0))
	hs, err := s.ListHeldSyncs(ctx, store.HeldSyncQuery{})
	must(t, err)
	equal(t, "held syncs after failed hold", len(hs), 0)

	ok := holdSync(t, s, "hr", "r")
	events := auditLen(t, s)
	if _, err := s.ResolveHeldSync(ctx, ok.ID, store.HeldApproved, "alice", unmarshalable("source.approved")); err == nil {
		t.Fatal("ResolveHeldSync with an event that cannot be stored succeeded")
	}
	got, err := s.HeldSync(ctx, ok.ID)
	must(t, err)
	equal(t, "state after failed resolve", got.State, store.HeldPending)
	equal(t, "events after failed resolve", auditLen(t, s), events)
}
