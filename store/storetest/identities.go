package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

var identityTests = []test{
	{"SyncCounts", testSyncCounts},
	{"SyncKeepsSilentIdentities", testSyncKeepsSilent},
	{"SyncUpdatedAt", testSyncUpdatedAt},
	{"RoundTrip", testIdentityRoundTrip},
	{"NotFound", testIdentityNotFound},
	{"SyncAtomic", testSyncAtomic},
	{"ListPaging", testListIdentitiesPaging},
	{"ListSearch", testListIdentitiesSearch},
	{"Count", testCountIdentities},
	{"ListExact", testListIdentitiesExact},
	{"ListOffset", testListIdentitiesOffset},
	{"ListHideStatus", testListIdentitiesHideStatus},
	{"PendingMarks", testPendingMarks},
	{"PushUniqueUserName", testPushUniqueUserName},
	{"PushUniqueUserNameConcurrent", testPushUniqueUserNameConcurrent},
}

func endDate(t *testing.T, s string) identity.EndDate {
	t.Helper()
	d, err := identity.ParseEndDate(s)
	must(t, err)
	return d
}

func person(src, ext, status string) identity.Identity {
	return identity.Identity{
		SourceID: src, ExternalID: ext, UserName: ext, Email: ext + "@example.com",
		DisplayName: "Person " + ext, Status: status, Department: "Sales", Manager: "m1",
		Attributes: map[string]string{"country": "DE"},
	}
}

func syncIDs(t *testing.T, s store.Store, src string, ids ...identity.Identity) store.SyncResult {
	t.Helper()
	res, err := s.SyncIdentities(t.Context(), src, ids, event("source.synced"))
	must(t, err)
	return res
}

// sameIdentity compares all but UpdatedAt; end dates compare by meaning
// (instant, date-only, and the form they were given in).
func sameIdentity(t *testing.T, got, want identity.Identity) {
	t.Helper()
	if got.EndDate.String() != want.EndDate.String() || got.EndDate.DateOnly != want.EndDate.DateOnly ||
		!got.EndDate.Time.Equal(want.EndDate.Time) {
		t.Fatalf("identity %s: end date %#v (%s), want %#v (%s)", want.ID(), got.EndDate, got.EndDate,
			want.EndDate, want.EndDate)
	}
	got.EndDate, want.EndDate = identity.EndDate{}, identity.EndDate{}
	got.UpdatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	equal(t, "identity "+want.ID(), got, want)
}

func sorted(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	return ss
}

func testSyncCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, c, d := person("hr", "a", "Active"), person("hr", "b", "Active"), person("hr", "c", "Active"), person("hr", "d", "Active")
	e := person("hr", "e", "Active")

	res := syncIDs(t, s, "hr", a, b, c, e)
	equal(t, "first sync", res, store.SyncResult{Created: 4, Changed: res.Changed, MarkedAt: res.MarkedAt})
	if res.MarkedAt.IsZero() {
		t.Fatal("first sync: no MarkedAt")
	}
	equal(t, "first sync changed", sorted(res.Changed), []string{"hr/a", "hr/b", "hr/c", "hr/e"})

	res = syncIDs(t, s, "hr", a, b, c, e)
	equal(t, "same sync (nothing marked)", res, store.SyncResult{Unchanged: 4, Changed: res.Changed})
	equal(t, "same sync changed", len(res.Changed), 0)

	a.Status = "ACTIVE"                               // case only: updated, status unchanged
	b.Status = "Terminated"                           // status changed
	c.EndDate = endDate(t, "2026-11-30")              // end date set: status changed
	e.Attributes = map[string]string{"country": "FR"} // other content: updated
	res = syncIDs(t, s, "hr", a, b, c, d, e)
	equal(t, "changing sync", res, store.SyncResult{Created: 1, Updated: 4, StatusChanged: 2, Changed: res.Changed, MarkedAt: res.MarkedAt})
	equal(t, "changing sync changed", sorted(res.Changed), []string{"hr/a", "hr/b", "hr/c", "hr/d", "hr/e"})

	ev := lastEvent(t, s)
	equal(t, "event action", ev.Action, "source.synced")
	for k, want := range map[string]int{"created": 1, "updated": 4, "unchanged": 0, "statusChanged": 2} {
		if got := detailInt(t, ev, k); got != want {
			t.Fatalf("event detail %s = %d, want %d", k, got, want)
		}
	}

	c.EndDate = endDate(t, "2026-11-30T17:00:00+01:00") // date → instant: status changed
	res = syncIDs(t, s, "hr", c)
	equal(t, "end date form change", res, store.SyncResult{Updated: 1, StatusChanged: 1, Changed: []string{"hr/c"}, MarkedAt: res.MarkedAt})

	got, err := s.Identity(ctx, "hr/a")
	must(t, err)
	equal(t, "status kept as given", got.Status, "ACTIVE")
}

func testSyncKeepsSilent(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := person("hr", "a", "Active"), person("hr", "b", "Active")
	syncIDs(t, s, "hr", a, b)
	before, err := s.Identity(ctx, "hr/b")
	must(t, err)
	res := syncIDs(t, s, "hr", a)
	equal(t, "sync without b", res, store.SyncResult{Unchanged: 1, Changed: res.Changed})
	after, err := s.Identity(ctx, "hr/b")
	must(t, err)
	equal(t, "silent identity", after, before)
	n, err := s.CountIdentities(ctx, store.IdentityQuery{SourceID: "hr"})
	must(t, err)
	equal(t, "identities", n, 2)

	// Another source's sync touches nothing of hr.
	syncIDs(t, s, "idp", person("idp", "a", "enabled"))
	n, err = s.CountIdentities(ctx, store.IdentityQuery{})
	must(t, err)
	equal(t, "identities of both sources", n, 3)
}

func testSyncUpdatedAt(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := person("hr", "a", "Active"), person("hr", "b", "Active")
	a.UpdatedAt = at(-1000 * 24 * time.Hour) // the store's clock decides, not the caller
	syncIDs(t, s, "hr", a, b)
	a1, err := s.Identity(ctx, "hr/a")
	must(t, err)
	kept(t, "UpdatedAt on create", a1.UpdatedAt)
	if a1.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatal("UpdatedAt is the caller's, want the store's clock")
	}
	b1, err := s.Identity(ctx, "hr/b")
	must(t, err)

	a.Department = "Finance"
	syncIDs(t, s, "hr", a, b)
	a2, err := s.Identity(ctx, "hr/a")
	must(t, err)
	b2, err := s.Identity(ctx, "hr/b")
	must(t, err)
	kept(t, "UpdatedAt on change", a2.UpdatedAt)
	if a2.UpdatedAt.Before(a1.UpdatedAt) {
		t.Fatalf("UpdatedAt went back on change: %s then %s", a1.UpdatedAt, a2.UpdatedAt)
	}
	equal(t, "UpdatedAt of unchanged identity", b2.UpdatedAt, b1.UpdatedAt)
}

func testIdentityRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	dateOnly := person("hr", "date", "Active")
	dateOnly.EndDate = endDate(t, "2026-11-30")
	instant := person("hr", "instant", "Leaver")
	instant.EndDate = endDate(t, "2026-11-30T17:00:00+01:00")
	instant.Attributes = map[string]string{"costCenter": "4711", "note": "Zoë, 名前", "empty": ""}
	utc := person("hr", "utc", "Active")
	utc.EndDate = endDate(t, "2027-01-15T08:00:00Z")
	bare := identity.Identity{SourceID: "hr", ExternalID: "bare/with/slashes", UserName: "bare"}
	all := []identity.Identity{dateOnly, instant, utc, bare}
	syncIDs(t, s, "hr", all...)
	for _, want := range all {
		got, err := s.Identity(ctx, want.ID())
		must(t, err)
		sameIdentity(t, got, want)
		kept(t, "UpdatedAt", got.UpdatedAt)
	}
	got, err := s.Identity(ctx, "hr/bare/with/slashes")
	must(t, err)
	if !got.EndDate.IsZero() || len(got.Attributes) > 0 {
		t.Fatalf("bare identity came back with %#v", got)
	}
}

func testIdentityNotFound(t *testing.T, s store.Store) {
	_, err := s.Identity(t.Context(), "hr/nobody")
	wantErr(t, err, store.ErrNotFound, "Identity of a missing key")
}

func testSyncAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.SyncIdentities(ctx, "hr", []identity.Identity{person("hr", "a", "Active")}, unmarshalable("source.synced"))
	if err == nil {
		t.Fatal("SyncIdentities with an event that cannot be stored succeeded")
	}
	n, err := s.CountIdentities(ctx, store.IdentityQuery{})
	must(t, err)
	equal(t, "identities after failed sync", n, 0)
	equal(t, "events after failed sync", auditLen(t, s), 0)
}

func testListIdentitiesPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var hr, idp []identity.Identity
	var want []string
	for i := 104; i >= 0; i-- { // given in reverse: the store orders
		hr = append(hr, person("hr", fmt.Sprintf("u%04d", i), "Active"))
		want = append(want, keyN("hr", i))
	}
	for i := range 5 {
		idp = append(idp, person("idp", fmt.Sprintf("u%04d", i), "enabled"))
	}
	syncIDs(t, s, "hr", hr...)
	syncIDs(t, s, "idp", idp...)
	slices.Sort(want)

	page, err := s.ListIdentities(ctx, store.IdentityQuery{SourceID: "hr"})
	must(t, err)
	equal(t, "default page size", len(page), 100)

	var got []string
	after := ""
	for {
		page, err := s.ListIdentities(ctx, store.IdentityQuery{SourceID: "hr", After: after, Limit: 7})
		must(t, err)
		for _, id := range page {
			got = append(got, id.ID())
		}
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].ID()
	}
	equal(t, "keyset pages", got, want)

	page, err = s.ListIdentities(ctx, store.IdentityQuery{After: "hr/u0103", Limit: 4})
	must(t, err)
	var keys []string
	for _, id := range page {
		keys = append(keys, id.ID())
	}
	equal(t, "page across sources", keys, []string{"hr/u0104", "idp/u0000", "idp/u0001", "idp/u0002"})
	sameIdentity(t, page[1], idp[0])
}

func testListIdentitiesSearch(t *testing.T, s store.Store) {
	ctx := t.Context()
	zoe := identity.Identity{SourceID: "hr", ExternalID: "1", UserName: "zoe.angstrom", Email: "zoe@example.com", DisplayName: "Zoë Ångström"}
	mx := identity.Identity{SourceID: "hr", ExternalID: "2", UserName: "max_mustermann", Email: "Max.Mustermann@Example.COM", DisplayName: "Max Mustermann", Department: "Ångström lab"}
	pct := identity.Identity{SourceID: "idp", ExternalID: "3", UserName: "percent", Email: "100%@example.com", DisplayName: "Per Cent"}
	syncIDs(t, s, "hr", zoe, mx)
	syncIDs(t, s, "idp", pct)

	for _, tc := range []struct {
		name string
		q    store.IdentityQuery
		want []string
	}{
		{"userName", store.IdentityQuery{Search: "ANGSTROM"}, []string{"hr/1"}},
		{"email case-insensitively", store.IdentityQuery{Search: "mustermann@example.com"}, []string{"hr/2"}},
		{"displayName beyond ASCII", store.IdentityQuery{Search: "ÅNGSTRÖM"}, []string{"hr/1"}},
		{"substring of all three", store.IdentityQuery{Search: "example"}, []string{"hr/1", "hr/2", "idp/3"}},
		{"underscore is literal", store.IdentityQuery{Search: "_"}, []string{"hr/2"}},
		{"percent is literal", store.IdentityQuery{Search: "%"}, []string{"idp/3"}},
		{"not department", store.IdentityQuery{Search: "lab"}, nil},
		{"with source", store.IdentityQuery{Search: "example", SourceID: "idp"}, []string{"idp/3"}},
		{"with after and limit", store.IdentityQuery{Search: "example", After: "hr/1", Limit: 1}, []string{"hr/2"}},
	} {
		ids, err := s.ListIdentities(ctx, tc.q)
		must(t, err)
		var got []string
		for _, id := range ids {
			got = append(got, id.ID())
		}
		equal(t, tc.name, got, tc.want)
		n, err := s.CountIdentities(ctx, store.IdentityQuery{Search: tc.q.Search, SourceID: tc.q.SourceID})
		must(t, err)
		if tc.q.After == "" && n != len(tc.want) {
			t.Fatalf("%s: count %d, want %d", tc.name, n, len(tc.want))
		}
	}
}

func testCountIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	n, err := s.CountIdentities(ctx, store.IdentityQuery{})
	must(t, err)
	equal(t, "count of none", n, 0)
	var hr []identity.Identity
	for i := range 12 {
		hr = append(hr, person("hr", fmt.Sprintf("u%04d", i), "Active"))
	}
	syncIDs(t, s, "hr", hr...)
	syncIDs(t, s, "idp", person("idp", "x", "enabled"))
	for _, tc := range []struct {
		name string
		q    store.IdentityQuery
		want int
	}{
		{"all", store.IdentityQuery{}, 13},
		{"source", store.IdentityQuery{SourceID: "hr"}, 12},
		{"limit and after ignored", store.IdentityQuery{SourceID: "hr", After: "hr/u0010", Limit: 1}, 12},
		{"search", store.IdentityQuery{Search: "U001"}, 2},
		{"unknown source", store.IdentityQuery{SourceID: "nope"}, 0},
	} {
		n, err := s.CountIdentities(ctx, tc.q)
		must(t, err)
		equal(t, tc.name, n, tc.want)
	}
}

// identityKeys lists the identities q selects, by key, and checks that
// CountIdentities (which ignores After, Offset and Limit) agrees when q
// pages nothing.
func identityKeys(t *testing.T, s store.Store, q store.IdentityQuery) []string {
	t.Helper()
	ids, err := s.ListIdentities(t.Context(), q)
	must(t, err)
	var keys []string
	for _, id := range ids {
		keys = append(keys, id.ID())
	}
	if q.After == "" && q.Offset == 0 && q.Limit == 0 {
		n, err := s.CountIdentities(t.Context(), q)
		must(t, err)
		if n != len(keys) {
			t.Fatalf("count of %+v = %d, list has %d", q, n, len(keys))
		}
	}
	return keys
}

// testListIdentitiesExact: UserName and ExternalID select exact values,
// userName case-insensitively (beyond ASCII) and externalId as given.
func testListIdentitiesExact(t *testing.T, s store.Store) {
	zoe := identity.Identity{SourceID: "hr", ExternalID: "E-1", UserName: "Zoë.Ångström", Email: "zoe@example.com"}
	zoe2 := identity.Identity{SourceID: "hr", ExternalID: "e-1", UserName: "zoë.ångström.2"}
	idp := identity.Identity{SourceID: "idp", ExternalID: "E-1", UserName: "zoë.ångström"}
	pct := identity.Identity{SourceID: "idp", ExternalID: "x_%", UserName: "a_b%"}
	syncIDs(t, s, "hr", zoe, zoe2)
	syncIDs(t, s, "idp", idp, pct)

	for _, tc := range []struct {
		name string
		q    store.IdentityQuery
		want []string
	}{
		{"userName as stored", store.IdentityQuery{UserName: "Zoë.Ångström"}, []string{"hr/E-1", "idp/E-1"}},
		{"userName in other case", store.IdentityQuery{UserName: "ZOË.ÅNGSTRÖM"}, []string{"hr/E-1", "idp/E-1"}},
		{"userName is not a substring match", store.IdentityQuery{UserName: "zoë"}, nil},
		{"userName is not a prefix match", store.IdentityQuery{UserName: "zoë.ångström.2x"}, nil},
		{"userName wildcards are literal", store.IdentityQuery{UserName: "a_b%"}, []string{"idp/x_%"}},
		{"userName wildcards do not match", store.IdentityQuery{UserName: "aXbY"}, nil},
		{"userName and source", store.IdentityQuery{UserName: "zoë.ångström", SourceID: "idp"}, []string{"idp/E-1"}},
		{"externalId", store.IdentityQuery{ExternalID: "E-1"}, []string{"hr/E-1", "idp/E-1"}},
		{"externalId is case-sensitive", store.IdentityQuery{ExternalID: "e-1"}, []string{"hr/e-1"}},
		{"externalId wildcards are literal", store.IdentityQuery{ExternalID: "x_%"}, []string{"idp/x_%"}},
		{"externalId and source", store.IdentityQuery{ExternalID: "E-1", SourceID: "hr"}, []string{"hr/E-1"}},
		{"externalId and userName", store.IdentityQuery{ExternalID: "e-1", UserName: "zoë.ångström"}, nil},
		{"unknown", store.IdentityQuery{ExternalID: "nope"}, nil},
	} {
		equal(t, tc.name, identityKeys(t, s, tc.q), tc.want)
	}
}

// testListIdentitiesOffset: Offset skips that many identities of the
// selection in key order, with or without After; Count ignores it.
func testListIdentitiesOffset(t *testing.T, s store.Store) {
	ctx := t.Context()
	var hr []identity.Identity
	var want []string
	for i := range 23 {
		hr = append(hr, person("hr", fmt.Sprintf("u%04d", i), "Active"))
		want = append(want, keyN("hr", i))
	}
	syncIDs(t, s, "hr", hr...)
	syncIDs(t, s, "idp", person("idp", "a", "enabled"))

	var got []string
	for off := 0; ; off += 5 {
		page := identityKeys(t, s, store.IdentityQuery{SourceID: "hr", Offset: off, Limit: 5})
		got = append(got, page...)
		if len(page) < 5 {
			break
		}
	}
	equal(t, "offset pages", got, want)
	equal(t, "offset past the end", identityKeys(t, s, store.IdentityQuery{Offset: 100}), []string(nil))
	equal(t, "offset across sources", identityKeys(t, s, store.IdentityQuery{Offset: 22, Limit: 5}),
		[]string{"hr/u0022", "idp/a"})
	equal(t, "offset after a key", identityKeys(t, s, store.IdentityQuery{After: "hr/u0010", Offset: 2, Limit: 2}),
		[]string{"hr/u0013", "hr/u0014"})
	equal(t, "offset without limit is a page of 100", len(identityKeys(t, s, store.IdentityQuery{Offset: 1})), 23)
	n, err := s.CountIdentities(ctx, store.IdentityQuery{SourceID: "hr", Offset: 20, Limit: 1})
	must(t, err)
	equal(t, "count ignores offset", n, 23)
}

// testListIdentitiesHideStatus: HideStatus leaves out identities with that
// status, compared case-insensitively (beyond ASCII); others stay,
// identities with no status included.
func testListIdentitiesHideStatus(t *testing.T, s store.Store) {
	syncIDs(t, s, "hr",
		person("hr", "a", "Active"),
		person("hr", "b", "Terminated"),
		person("hr", "c", "TERMINATED"),
		person("hr", "d", ""),
		person("hr", "e", "Gekündigt"),
		person("hr", "f", "Terminated soon"))
	syncIDs(t, s, "idp", person("idp", "a", "terminated"))

	for _, tc := range []struct {
		name string
		q    store.IdentityQuery
		want []string
	}{
		{"none hidden", store.IdentityQuery{}, []string{"hr/a", "hr/b", "hr/c", "hr/d", "hr/e", "hr/f", "idp/a"}},
		{"any case", store.IdentityQuery{HideStatus: "terminated"}, []string{"hr/a", "hr/d", "hr/e", "hr/f"}},
		{"beyond ASCII", store.IdentityQuery{HideStatus: "GEKÜNDIGT"}, []string{"hr/a", "hr/b", "hr/c", "hr/d", "hr/f", "idp/a"}},
		{"with source", store.IdentityQuery{HideStatus: "Terminated", SourceID: "idp"}, nil},
		{"with search", store.IdentityQuery{HideStatus: "active", Search: "person"}, []string{"hr/b", "hr/c", "hr/d", "hr/e", "hr/f", "idp/a"}},
		{"with paging", store.IdentityQuery{HideStatus: "terminated", After: "hr/a", Offset: 1, Limit: 1}, []string{"hr/e"}},
	} {
		equal(t, tc.name, identityKeys(t, s, tc.q), tc.want)
	}
}

// testPendingMarks: a sync marks what it created or updated, in its own
// transaction; marks are read oldest first and cleared per source, per key
// and only those set at the given time.
func testPendingMarks(t *testing.T, s store.Store) {
	ctx := t.Context()
	none, err := s.PendingIdentities(ctx, at(time.Hour), 10)
	must(t, err)
	equal(t, "no marks before a sync", len(none), 0)
	res := syncIDs(t, s, "hr", person("hr", "1", "ACTIVE"), person("hr", "2", "ACTIVE"), person("hr", "3", "ACTIVE"))
	syncIDs(t, s, "idp", person("idp", "9", "ACTIVE"))
	if res.MarkedAt.IsZero() {
		t.Fatal("a sync that changed identities has no MarkedAt")
	}
	keys := func(ps []store.PendingIdentity) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Key)
			equal(t, "mark time", p.Since, res.MarkedAt)
		}
		return sorted(out)
	}
	all, err := s.PendingIdentities(ctx, res.MarkedAt, 10)
	must(t, err)
	equal(t, "marked", keys(all), []string{"hr/1", "hr/2", "hr/3", "idp/9"})
	before, err := s.PendingIdentities(ctx, res.MarkedAt.Add(-time.Microsecond), 10)
	must(t, err)
	equal(t, "marks after `before`", len(before), 0)
	limited, err := s.PendingIdentities(ctx, res.MarkedAt, 2)
	must(t, err)
	equal(t, "limit", len(limited), 2)

	// Marks set at another time (by an earlier or a later sync) stay.
	must(t, s.ClearPending(ctx, "hr", nil, res.MarkedAt.Add(-time.Microsecond)))
	must(t, s.ClearPending(ctx, "hr", nil, res.MarkedAt.Add(time.Microsecond)))
	must(t, s.ClearPending(ctx, "hr", []string{"hr/2"}, res.MarkedAt))
	left, err := s.PendingIdentities(ctx, res.MarkedAt, 10)
	must(t, err)
	equal(t, "after clearing hr/2", keys(left), []string{"hr/1", "hr/3", "idp/9"})
	must(t, s.ClearPending(ctx, "hr", nil, res.MarkedAt))
	left, err = s.PendingIdentities(ctx, res.MarkedAt, 10)
	must(t, err)
	equal(t, "after clearing source hr", keys(left), []string{"idp/9"})

	// An unchanged delivery marks nothing; a changed identity is marked again.
	again := syncIDs(t, s, "hr", person("hr", "1", "ACTIVE"), person("hr", "2", "TERMINATED"))
	left, err = s.PendingIdentities(ctx, again.MarkedAt, 10)
	must(t, err)
	equal(t, "after a second sync", keys(left), []string{"hr/2", "idp/9"})
}

// testPushUniqueUserName: a pushed identity may not take a userName another
// identity of the source holds (case-insensitively, deleted ones too);
// a refused push changes nothing.
func testPushUniqueUserName(t *testing.T, s store.Store) {
	ctx := t.Context()
	jdoe := person("idp", "E1", "ACTIVE")
	jdoe.UserName = "jdoe"
	_, err := s.PushIdentity(ctx, "idp", jdoe, event("identity.pushed"))
	must(t, err)
	// The same identity again, its userName unchanged: fine.
	jdoe.Department = "Finance"
	_, err = s.PushIdentity(ctx, "idp", jdoe, event("identity.pushed"))
	must(t, err)
	// Another source may use the name.
	other := person("hr", "E2", "ACTIVE")
	other.UserName = "JDoe"
	_, err = s.PushIdentity(ctx, "hr", other, event("identity.pushed"))
	must(t, err)

	events := auditLen(t, s)
	rival := person("idp", "E2", "ACTIVE")
	rival.UserName = "JDOE"
	_, err = s.PushIdentity(ctx, "idp", rival, event("identity.pushed"))
	var taken *store.UserNameTakenError
	if !errors.As(err, &taken) || taken.Holder.ID() != "idp/E1" {
		t.Fatalf("push of a taken userName: %v, want a UserNameTakenError naming idp/E1", err)
	}
	_, err = s.Identity(ctx, "idp/E2")
	wantErr(t, err, store.ErrNotFound, "the refused identity")
	equal(t, "events after a refused push", auditLen(t, s), events)
}

// testPushUniqueUserNameConcurrent: pushes of one new userName for several
// identities at once store exactly one of them.
func testPushUniqueUserNameConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			id := person("idp", fmt.Sprintf("E%d", i), "ACTIVE")
			id.UserName = "newhire"
			_, errs[i] = s.PushIdentity(ctx, "idp", id, event("identity.pushed"))
		})
	}
	wg.Wait()
	stored := 0
	for i, err := range errs {
		var taken *store.UserNameTakenError
		switch {
		case err == nil:
			stored++
		case !errors.As(err, &taken):
			t.Fatalf("push %d: %v, want success or UserNameTakenError", i, err)
		}
	}
	equal(t, "pushes stored", stored, 1)
	n2, err := s.CountIdentities(ctx, store.IdentityQuery{SourceID: "idp"})
	must(t, err)
	equal(t, "identities", n2, 1)
}
