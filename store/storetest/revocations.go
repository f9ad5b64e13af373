package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/store"
)

var revocationTests = []test{
	{"NotFound", testRevocationNotFound},
	{"UpdateCompareAndSet", testUpdateRevocationCAS},
	{"UpdateFields", testUpdateRevocationFields},
	{"UpdateAccountChange", testUpdateRevocationAccount},
	{"UpdateForgetsMatch", testUpdateRevocationForgetMatch},
	{"UpdateAtomic", testUpdateRevocationAtomic},
	{"UpdateConcurrent", testUpdateRevocationConcurrent},
	{"MarkQueued", testMarkQueued},
	{"ListFilters", testListRevocations},
	{"Counts", testCountRevocations},
	{"LatestFirst", testListRevocationsLatestFirst},
	{"BeforeRoundTrip", testRevocationBefore},
	{"UpdateBefore", testUpdateRevocationBefore},
	{"UndoOf", testRevocationUndoOf},
	{"UpdateUnqueue", testUpdateRevocationUnqueue},
}

var (
	scheduled = []store.RevocationState{store.Scheduled}
	running   = []store.RevocationState{store.Running}
)

// oneRevocation stores a run with one revocation of hr/a's crm account c-1.
func oneRevocation(t *testing.T, s store.Store) store.Revocation {
	t.Helper()
	_, revs := createRun(t, s, "terminated", rev("terminated", "hr/a", "crm", "c-1", account.Revoke))
	return revs[0]
}

func testRevocationNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.Revocation(ctx, 4711)
	wantErr(t, err, store.ErrNotFound, "Revocation of a missing id")
	_, err = s.UpdateRevocation(ctx, 4711, scheduled, store.RevocationUpdate{State: store.Running}, event("revocation.started"))
	wantErr(t, err, store.ErrNotFound, "UpdateRevocation of a missing id")
	equal(t, "events", auditLen(t, s), 0)
}

func testUpdateRevocationCAS(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := oneRevocation(t, s)
	got, err := s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Running}, event("revocation.started"))
	must(t, err)
	equal(t, "state", got.State, store.Running)
	stored, err := s.Revocation(ctx, r.ID)
	must(t, err)
	equal(t, "returned row is the stored row", got, stored)

	events := auditLen(t, s)
	_, err = s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Running, Attempts: ptr(9)}, event("revocation.started"))
	wantErr(t, err, store.ErrConflict, "UpdateRevocation from a state it is not in")
	after, err := s.Revocation(ctx, r.ID)
	must(t, err)
	equal(t, "row after conflict", after, stored)
	equal(t, "events after conflict", auditLen(t, s), events)

	_, err = s.UpdateRevocation(ctx, r.ID, nil, store.RevocationUpdate{State: store.Cancelled}, event("revocation.cancelled"))
	wantErr(t, err, store.ErrConflict, "UpdateRevocation from no state")

	// Any of several states will do.
	got, err = s.UpdateRevocation(ctx, r.ID, store.Active, store.RevocationUpdate{State: store.Cancelled}, event("revocation.cancelled"))
	must(t, err)
	equal(t, "state", got.State, store.Cancelled)
}

func testUpdateRevocationFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := oneRevocation(t, s)
	due, finished := at(15*24*time.Hour), at(15*24*time.Hour+time.Minute)

	// A zero State keeps the state; nil fields keep theirs.
	got, err := s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{
		DueAt: &due, Attempts: ptr(1), Pauses: ptr(3), LastError: ptr("503 Service Unavailable"),
	}, event("revocation.retry"))
	must(t, err)
	want := r
	want.DueAt, want.Attempts, want.Pauses, want.LastError, want.UpdatedAt = due, 1, 3, "503 Service Unavailable", got.UpdatedAt
	equal(t, "retry", got, want)
	kept(t, "UpdatedAt", got.UpdatedAt) // the store's clock

	got, err = s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{
		State: store.Succeeded, LastError: ptr(""), Result: ptr("groups removed: 2"), FinishedAt: &finished,
	}, event("revocation.succeeded"))
	must(t, err)
	want.State, want.LastError, want.Result, want.FinishedAt, want.UpdatedAt = store.Succeeded, "", "groups removed: 2", finished, got.UpdatedAt
	equal(t, "succeeded", got, want)
	read, err := s.Revocation(ctx, r.ID)
	must(t, err)
	equal(t, "returned as it reads back", got, read)

	got, err = s.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Succeeded}, store.RevocationUpdate{
		CancelReason: ptr("identity reactivated"),
	}, event("revocation.noted"))
	must(t, err)
	equal(t, "cancel reason", got.CancelReason, "identity reactivated")
	equal(t, "state kept", got.State, store.Succeeded)

	// The event names what it concerns.
	ev := lastEvent(t, s)
	equal(t, "event references", [5]any{ev.RevocationID, ev.RunID, ev.RuleID, ev.IdentityID, ev.ApplicationID},
		[5]any{r.ID, r.RunID, "terminated", "hr/a", "crm"})
}

func testUpdateRevocationAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	replace(t, s, "crm", acct("crm", "c-1", "hr/a"), acct("crm", "c-2", "hr/a"))
	r := oneRevocation(t, s)

	_, err := s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Succeeded, ClearEntitlements: true},
		event("revocation.succeeded"))
	must(t, err)
	as := listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"})
	equal(t, "entitlements cleared", len(as[0].Entitlements), 0)
	equal(t, "state kept", as[0].State, account.Active)
	equal(t, "other account untouched", as[1], acct("crm", "c-2", "hr/a"))

	r = oneRevocation(t, s)
	_, err = s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Succeeded, AccountState: account.Disabled},
		event("revocation.succeeded"))
	must(t, err)
	as = listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"})
	equal(t, "account disabled", as[0].State, account.Disabled)

	r = oneRevocation(t, s)
	_, err = s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Succeeded, AccountState: account.Deleted},
		event("revocation.succeeded"))
	must(t, err)
	equal(t, "deleted account not listed", accountKeys(listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"})),
		[]string{"crm/c-2"})

	// A revocation whose account is not recorded still updates.
	_, revs := createRun(t, s, "terminated", rev("terminated", "hr/a", "crm", "gone", account.Disable))
	_, err = s.UpdateRevocation(ctx, revs[0].ID, scheduled, store.RevocationUpdate{State: store.Succeeded, AccountState: account.Disabled},
		event("revocation.succeeded"))
	must(t, err)
}

func testUpdateRevocationForgetMatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateRun(ctx, store.CreateRunParams{Run: newRun("contractors"), Matches: map[string]time.Time{"hr/a": at(0)}}))
	p := store.CreateRunParams{Run: newRun("terminated"),
		Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
		Matches:     map[string]time.Time{"hr/a": at(0), "hr/b": at(0)}}
	must(t, s.CreateRun(ctx, p))

	_, err := s.UpdateRevocation(ctx, p.Revocations[0].ID, scheduled, store.RevocationUpdate{State: store.Cancelled, ForgetMatch: true},
		event("revocation.cancelled"))
	must(t, err)
	m, err := s.Matches(ctx, "terminated", []string{"hr/a", "hr/b"})
	must(t, err)
	equal(t, "matches of the rule", m, map[string]time.Time{"hr/b": at(0)})
	m, err = s.Matches(ctx, "contractors", []string{"hr/a"})
	must(t, err)
	equal(t, "matches of another rule", m, map[string]time.Time{"hr/a": at(0)})
}

func testUpdateRevocationAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	replace(t, s, "crm", acct("crm", "c-1", "hr/a"))
	p := store.CreateRunParams{Run: newRun("terminated"),
		Revocations: []store.Revocation{rev("terminated", "hr/a", "crm", "c-1", account.Disable)},
		Matches:     map[string]time.Time{"hr/a": at(0)}}
	must(t, s.CreateRun(ctx, p))
	before, err := s.Revocation(ctx, p.Revocations[0].ID)
	must(t, err)
	events := auditLen(t, s)

	_, err = s.UpdateRevocation(ctx, before.ID, scheduled, store.RevocationUpdate{
		State: store.Succeeded, AccountState: account.Disabled, ClearEntitlements: true, ForgetMatch: true,
	}, unmarshalable("revocation.succeeded"))
	if err == nil {
		t.Fatal("UpdateRevocation with an event that cannot be stored succeeded")
	}
	after, err := s.Revocation(ctx, before.ID)
	must(t, err)
	equal(t, "revocation", after, before)
	equal(t, "account", listAccounts(t, s, store.AccountQuery{}), []account.Account{acct("crm", "c-1", "hr/a")})
	m, err := s.Matches(ctx, "terminated", nil)
	must(t, err)
	equal(t, "matches", len(m), 1)
	equal(t, "events", auditLen(t, s), events)

	// Reviving a finished revocation while the same one is active conflicts.
	_, err = s.UpdateRevocation(ctx, before.ID, scheduled, store.RevocationUpdate{State: store.Cancelled}, event("revocation.cancelled"))
	must(t, err)
	createRun(t, s, "terminated", rev("terminated", "hr/a", "crm", "c-1", account.Disable))
	_, err = s.UpdateRevocation(ctx, before.ID, []store.RevocationState{store.Cancelled}, store.RevocationUpdate{State: store.Scheduled},
		event("revocation.rescheduled"))
	wantErr(t, err, store.ErrConflict, "rescheduling a duplicate of an active revocation")
}

func testUpdateRevocationConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := oneRevocation(t, s)
	const workers = 8
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			_, errs[i] = s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Running, Attempts: ptr(i + 1)},
				event("revocation.started"))
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("worker %d: %v, want nil or ErrConflict", i, err)
		}
	}
	equal(t, "winners", won, 1)
	evs, err := s.ListAudit(ctx, store.AuditQuery{Action: "revocation.started"})
	must(t, err)
	equal(t, "events of winners", len(evs), 1)
}

func revocationIDs(rs []store.Revocation) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testMarkQueued(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, revs := createRun(t, s, "terminated",
		rev("terminated", "hr/a", "crm", "c-1", account.Disable),
		rev("terminated", "hr/b", "crm", "c-2", account.Disable),
		rev("terminated", "hr/c", "crm", "c-3", account.Disable))
	list := func(q store.RevocationQuery) []int64 {
		t.Helper()
		rs, err := s.ListRevocations(ctx, q)
		must(t, err)
		return revocationIDs(rs)
	}
	equal(t, "all unqueued", list(store.RevocationQuery{Unqueued: true}), revocationIDs(revs))
	must(t, s.MarkQueued(ctx, []int64{revs[0].ID, revs[2].ID}))
	equal(t, "unqueued", list(store.RevocationQuery{Unqueued: true}), []int64{revs[1].ID})
	r, err := s.Revocation(ctx, revs[0].ID)
	must(t, err)
	equal(t, "queued", r.Queued, true)
	must(t, s.MarkQueued(ctx, []int64{revs[0].ID})) // again: no change
	must(t, s.MarkQueued(ctx, nil))
	wantErr(t, s.MarkQueued(ctx, []int64{revs[1].ID, 4711}), store.ErrNotFound, "MarkQueued of a missing id")
	equal(t, "unqueued after failed mark", list(store.RevocationQuery{Unqueued: true}), []int64{revs[1].ID})
}

func testListRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, a := createRun(t, s, "terminated",
		rev("terminated", "hr/a", "crm", "c-1", account.Disable),
		rev("terminated", "hr/b", "erp", "e-2", account.Delete))
	_, b := createRun(t, s, "contractors",
		rev("contractors", "hr/a", "erp", "e-1", account.Revoke),
		rev("contractors", "hr/c", "crm", "c-3", account.Disable))
	_, err := s.UpdateRevocation(ctx, b[0].ID, scheduled, store.RevocationUpdate{State: store.Running}, event("revocation.started"))
	must(t, err)
	_, err = s.UpdateRevocation(ctx, a[1].ID, scheduled, store.RevocationUpdate{State: store.Failed}, event("revocation.failed"))
	must(t, err)
	must(t, s.MarkQueued(ctx, []int64{a[0].ID}))

	for _, tc := range []struct {
		name string
		q    store.RevocationQuery
		want []int64
	}{
		{"all", store.RevocationQuery{}, []int64{a[0].ID, a[1].ID, b[0].ID, b[1].ID}},
		{"states", store.RevocationQuery{States: []store.RevocationState{store.Running, store.Failed}}, []int64{a[1].ID, b[0].ID}},
		{"active", store.RevocationQuery{States: store.Active}, []int64{a[0].ID, b[0].ID, b[1].ID}},
		{"no states", store.RevocationQuery{States: []store.RevocationState{}}, nil},
		{"rule", store.RevocationQuery{RuleID: "contractors"}, []int64{b[0].ID, b[1].ID}},
		{"run", store.RevocationQuery{RunID: a[0].RunID}, []int64{a[0].ID, a[1].ID}},
		{"identity", store.RevocationQuery{IdentityID: "hr/a"}, []int64{a[0].ID, b[0].ID}},
		{"application", store.RevocationQuery{ApplicationID: "crm"}, []int64{a[0].ID, b[1].ID}},
		{"unqueued", store.RevocationQuery{Unqueued: true, States: scheduled}, []int64{b[1].ID}},
		{"after", store.RevocationQuery{After: a[1].ID}, []int64{b[0].ID, b[1].ID}},
		{"after and limit", store.RevocationQuery{After: a[0].ID, Limit: 2}, []int64{a[1].ID, b[0].ID}},
		{"combined", store.RevocationQuery{IdentityID: "hr/a", ApplicationID: "erp", States: running}, []int64{b[0].ID}},
	} {
		rs, err := s.ListRevocations(ctx, tc.q)
		must(t, err)
		equal(t, tc.name, revocationIDs(rs), tc.want)
	}
}

// beforeAccount is an account as a revocation found it, with a time that
// has nanoseconds and a zone (kept in UTC at microseconds).
func beforeAccount() *account.Account {
	a := acct("crm", "c-1", "hr/a")
	a.SeenAt = t0.Add(time.Hour).In(time.FixedZone("CET", 3600))
	a.Attributes = map[string]string{"title": "Rep", "note": "Zoë"}
	return &a
}

// keptBefore is beforeAccount as the store gives it back.
func keptBefore() *account.Account {
	a := beforeAccount()
	a.SeenAt = at(time.Hour)
	return a
}

// testRevocationBefore: Before is kept as given (times as stores keep
// them) and comes back equal, through every read; nil stays nil.
func testRevocationBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	with := rev("terminated", "hr/a", "crm", "c-1", account.Disable)
	with.Before = beforeAccount()
	without := rev("terminated", "hr/b", "crm", "c-2", account.Disable)
	_, revs := createRun(t, s, "terminated", with, without)
	equal(t, "handed back", revs[0].Before, keptBefore())
	got, err := s.Revocation(ctx, revs[0].ID)
	must(t, err)
	equal(t, "Before", got.Before, keptBefore())
	equal(t, "revocation", got, revs[0])
	got, err = s.Revocation(ctx, revs[1].ID)
	must(t, err)
	if got.Before != nil {
		t.Fatalf("revocation without Before came back with %#v", got.Before)
	}
	listed, err := s.ListRevocations(ctx, store.RevocationQuery{})
	must(t, err)
	equal(t, "listed", listed, revs)

	// A minimal account: no entitlements, attributes or time.
	bare := rev("terminated", "hr/c", "crm", "c-3", account.Revoke)
	bare.Before = &account.Account{ApplicationID: "crm", NativeID: "c-3", State: account.Disabled}
	_, revs = createRun(t, s, "terminated", bare)
	got, err = s.Revocation(ctx, revs[0].ID)
	must(t, err)
	equal(t, "bare Before", got.Before, bare.Before)
}

// testUpdateRevocationBefore: u.Before records the account before the
// change; a nil u.Before keeps what is recorded.
func testUpdateRevocationBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := oneRevocation(t, s)
	got, err := s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Running}, event("revocation.started"))
	must(t, err)
	if got.Before != nil {
		t.Fatalf("Before %#v, want nil", got.Before)
	}
	got, err = s.UpdateRevocation(ctx, r.ID, running, store.RevocationUpdate{State: store.Succeeded,
		AccountState: account.Disabled, Before: beforeAccount()}, event("revocation.succeeded"))
	must(t, err)
	equal(t, "Before recorded", got.Before, keptBefore())
	read, err := s.Revocation(ctx, r.ID)
	must(t, err)
	equal(t, "returned as it reads back", got, read)
	// A bare account (no groups, attributes or time) reads back bare.
	bare := &account.Account{ApplicationID: "crm", NativeID: r.AccountID, State: account.Active, Entitlements: []account.Entitlement{}}
	got, err = s.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Succeeded}, store.RevocationUpdate{Before: bare}, event("revocation.noted"))
	must(t, err)
	read, err = s.Revocation(ctx, r.ID)
	must(t, err)
	equal(t, "bare Before returned as it reads back", got, read)
	got, err = s.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Succeeded}, store.RevocationUpdate{Before: beforeAccount()}, event("revocation.noted"))
	must(t, err)
	got, err = s.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Succeeded}, store.RevocationUpdate{
		Result: ptr("noted")}, event("revocation.noted"))
	must(t, err)
	equal(t, "Before kept", got.Before, keptBefore())
	stored, err := s.Revocation(ctx, r.ID)
	must(t, err)
	equal(t, "stored", stored, got)
}

// testRevocationUndoOf: a restoring revocation names the one it undoes.
func testRevocationUndoOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := rev("terminated", "hr/a", "crm", "c-1", account.Disable)
	orig.Before = beforeAccount()
	_, revs := createRun(t, s, "terminated", orig)
	undo := rev("terminated", "hr/a", "crm", "c-1", account.Restore)
	undo.UndoOf = revs[0].ID
	undo.Before = keptBefore()
	_, undone := createRun(t, s, "terminated", undo)
	got, err := s.Revocation(ctx, undone[0].ID)
	must(t, err)
	equal(t, "UndoOf", got.UndoOf, revs[0].ID)
	equal(t, "restoring revocation", got, undone[0])
	got, err = s.Revocation(ctx, revs[0].ID)
	must(t, err)
	equal(t, "UndoOf of the original", got.UndoOf, int64(0))
}

// testUpdateRevocationUnqueue: u.Unqueue marks the revocation as needing a
// job again (a retry by hand); without it, Queued stays as it is.
func testUpdateRevocationUnqueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := oneRevocation(t, s)
	must(t, s.MarkQueued(ctx, []int64{r.ID}))
	got, err := s.UpdateRevocation(ctx, r.ID, scheduled, store.RevocationUpdate{State: store.Failed}, event("revocation.failed"))
	must(t, err)
	equal(t, "queued kept", got.Queued, true)
	got, err = s.UpdateRevocation(ctx, r.ID, []store.RevocationState{store.Failed}, store.RevocationUpdate{
		State: store.Scheduled, Attempts: ptr(0), Unqueue: true}, event("revocation.retried"))
	must(t, err)
	equal(t, "unqueued", got.Queued, false)
	unqueued, err := s.ListRevocations(ctx, store.RevocationQuery{Unqueued: true})
	must(t, err)
	equal(t, "listed as unqueued", revocationIDs(unqueued), []int64{r.ID})
}

func testCountRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	n, err := s.CountRevocations(ctx)
	must(t, err)
	equal(t, "empty", len(n), 0)
	_, a := createRun(t, s, "terminated",
		rev("terminated", "hr/a", "crm", "c-1", account.Disable),
		rev("terminated", "hr/b", "crm", "c-2", account.Disable),
		rev("terminated", "hr/b", "erp", "e-2", account.Delete))
	createRun(t, s, "contractors", rev("contractors", "hr/c", "crm", "c-3", account.Disable))
	_, err = s.UpdateRevocation(ctx, a[1].ID, scheduled, store.RevocationUpdate{State: store.Failed}, event("revocation.failed"))
	must(t, err)

	n, err = s.CountRevocations(ctx)
	must(t, err)
	equal(t, "all", n, []store.RevocationCount{
		{RuleID: "contractors", ApplicationID: "crm", State: store.Scheduled, N: 1},
		{RuleID: "terminated", ApplicationID: "crm", State: store.Failed, N: 1},
		{RuleID: "terminated", ApplicationID: "crm", State: store.Scheduled, N: 1},
		{RuleID: "terminated", ApplicationID: "erp", State: store.Scheduled, N: 1},
	})
	n, err = s.CountRevocations(ctx, store.Failed, store.Running)
	must(t, err)
	equal(t, "by state", n, []store.RevocationCount{{RuleID: "terminated", ApplicationID: "crm", State: store.Failed, N: 1}})
}

func testListRevocationsLatestFirst(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, revs := createRun(t, s, "terminated",
		rev("terminated", "hr/a", "crm", "c-1", account.Disable),
		rev("terminated", "hr/b", "crm", "c-2", account.Disable),
		rev("terminated", "hr/c", "crm", "c-3", account.Disable))
	// Finish them out of id order: c-2 first, then c-3, then c-1 last.
	for i, idx := range []int{1, 2, 0} {
		fin := at(time.Duration(i+1) * time.Hour)
		_, err := s.UpdateRevocation(ctx, revs[idx].ID, scheduled, store.RevocationUpdate{State: store.Succeeded, FinishedAt: &fin}, event("revocation.succeeded"))
		must(t, err)
	}
	got, err := s.ListRevocations(ctx, store.RevocationQuery{States: []store.RevocationState{store.Succeeded}, LatestFirst: true, Limit: 2})
	must(t, err)
	equal(t, "latest two", revocationIDs(got), []int64{revs[0].ID, revs[2].ID})
}
