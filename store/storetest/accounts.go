package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

var accountTests = []test{
	{"ReplaceRoundTrip", testReplaceAccountsRoundTrip},
	{"ReplaceMarksUnlistedDeleted", testReplaceMarksDeleted},
	{"ReplaceAtomic", testReplaceAccountsAtomic},
	{"ListByManyIdentities", testListAccountsByIdentities},
	{"ListFilters", testListAccountsFilters},
	{"ListByIdentityRange", testListAccountsByIdentityRange},
	{"Correlate", testCorrelateAccount},
}

func acct(app, native, identityID string) account.Account {
	return account.Account{
		ApplicationID: app, NativeID: native, UserName: "user-" + native, Email: native + "@example.com",
		State: account.Active, IdentityID: identityID, SeenAt: at(0),
		Entitlements: []account.Entitlement{{ID: "g1", Name: "Sales"}, {ID: "g2"}},
		Attributes:   map[string]string{"title": "Rep"},
	}
}

func replace(t *testing.T, s store.Store, app string, accts ...account.Account) store.AggregateResult {
	t.Helper()
	res, err := s.ReplaceAccounts(t.Context(), app, accts, event("application.aggregated"))
	must(t, err)
	return res
}

func listAccounts(t *testing.T, s store.Store, q store.AccountQuery) []account.Account {
	t.Helper()
	as, err := s.ListAccounts(t.Context(), q)
	must(t, err)
	return as
}

func accountKeys(as []account.Account) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ApplicationID+"/"+a.NativeID)
	}
	return out
}

func testReplaceAccountsRoundTrip(t *testing.T, s store.Store) {
	a := acct("crm", "c-2", "hr/a")
	b := acct("crm", "c-1", "")
	b.State, b.Entitlements, b.Attributes = account.Disabled, nil, nil
	dn := acct("crm", "cn=Max Mustermann,ou=People,dc=example,dc=com", "hr/b")
	res := replace(t, s, "crm", a, b, dn)
	equal(t, "result", res, store.AggregateResult{Accounts: 3, Correlated: 2, Uncorrelated: 1})
	ev := lastEvent(t, s)
	equal(t, "event action", ev.Action, "application.aggregated")
	for k, want := range map[string]int{"accounts": 3, "correlated": 2, "uncorrelated": 1, "removed": 0} {
		if got := detailInt(t, ev, k); got != want {
			t.Fatalf("event detail %s = %d, want %d", k, got, want)
		}
	}
	got := listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"})
	equal(t, "accounts in native id order", got, []account.Account{b, a, dn})

	// A SeenAt the caller leaves zero is the store's clock.
	c := acct("erp", "e-1", "")
	c.SeenAt = time.Time{}
	replace(t, s, "erp", c)
	got = listAccounts(t, s, store.AccountQuery{ApplicationID: "erp"})
	equal(t, "erp accounts", len(got), 1)
	kept(t, "SeenAt", got[0].SeenAt)
}

func testReplaceMarksDeleted(t *testing.T, s store.Store) {
	a, b, c := acct("crm", "c-1", "hr/a"), acct("crm", "c-2", "hr/b"), acct("crm", "c-3", "")
	other := acct("erp", "e-1", "hr/a")
	replace(t, s, "erp", other)
	replace(t, s, "crm", a, b, c)

	// b is gone; a changed state and correlation.
	a.State, a.IdentityID, a.SeenAt = account.Disabled, "hr/z", at(time.Hour)
	res := replace(t, s, "crm", a, c)
	equal(t, "result", res, store.AggregateResult{Accounts: 2, Correlated: 1, Uncorrelated: 1, Removed: 1})
	equal(t, "removed in event", detailInt(t, lastEvent(t, s), "removed"), 1)
	equal(t, "listed", listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"}), []account.Account{a, c})

	deleted := b
	deleted.State = account.Deleted
	equal(t, "with deleted", listAccounts(t, s, store.AccountQuery{ApplicationID: "crm", IncludeDeleted: true}),
		[]account.Account{a, deleted, c})
	equal(t, "other application untouched", listAccounts(t, s, store.AccountQuery{ApplicationID: "erp"}),
		[]account.Account{other})

	// A deleted account is not removed twice.
	res = replace(t, s, "crm", a, c)
	equal(t, "second result", res.Removed, 0)

	// An empty aggregation removes every account of the application.
	res = replace(t, s, "crm")
	equal(t, "empty aggregation", res, store.AggregateResult{Removed: 2})
	equal(t, "listed after empty", len(listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"})), 0)

	// An account seen again is back.
	res = replace(t, s, "crm", b)
	equal(t, "back", res, store.AggregateResult{Accounts: 1, Correlated: 1})
	equal(t, "listed again", listAccounts(t, s, store.AccountQuery{ApplicationID: "crm"}), []account.Account{b})
}

func testReplaceAccountsAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	replace(t, s, "crm", acct("crm", "c-1", ""))
	if _, err := s.ReplaceAccounts(ctx, "crm", []account.Account{acct("crm", "c-2", "")}, unmarshalable("application.aggregated")); err == nil {
		t.Fatal("ReplaceAccounts with an event that cannot be stored succeeded")
	}
	equal(t, "accounts after failed replace", accountKeys(listAccounts(t, s, store.AccountQuery{IncludeDeleted: true})),
		[]string{"crm/c-1"})
	equal(t, "events after failed replace", auditLen(t, s), 1)
}

func testListAccountsByIdentities(t *testing.T, s store.Store) {
	// More identities than fit one IN list of most databases' comfort.
	const n = 1200
	var crm, erp []account.Account
	var ids []string
	for i := range n {
		crm = append(crm, acct("crm", fmt.Sprintf("c%05d", n-i), keyN("hr", i)))
		if i%100 == 0 {
			erp = append(erp, acct("erp", fmt.Sprintf("e%05d", i), keyN("hr", i)))
		}
	}
	replace(t, s, "crm", crm...)
	replace(t, s, "erp", erp...)
	for i := 0; i < n; i += 2 {
		ids = append(ids, keyN("hr", i))
	}
	ids = append(ids, "hr/unknown", keyN("hr", 0)) // unknown and repeated ids are harmless

	got := listAccounts(t, s, store.AccountQuery{IdentityIDs: ids})
	equal(t, "accounts of 602 ids", len(got), n/2+len(erp))
	for i, a := range got {
		if i > 0 && accountKeys(got[i-1 : i])[0] >= accountKeys(got[i : i+1])[0] {
			t.Fatalf("accounts out of order at %d: %s then %s", i, accountKeys(got[i-1 : i])[0], accountKeys(got[i : i+1])[0])
		}
		var num int
		fmt.Sscanf(a.IdentityID, "hr/u%d", &num)
		if num%2 != 0 {
			t.Fatalf("account %s of %s, which was not asked for", a.NativeID, a.IdentityID)
		}
	}

	page := listAccounts(t, s, store.AccountQuery{IdentityIDs: ids, ApplicationID: "crm", Limit: 3})
	equal(t, "first page", accountKeys(page), []string{"crm/c00002", "crm/c00004", "crm/c00006"})
	page = listAccounts(t, s, store.AccountQuery{IdentityIDs: ids, After: "crm/c01200", Limit: 3})
	equal(t, "page across applications", accountKeys(page), []string{"erp/e00000", "erp/e00100", "erp/e00200"})

	// An empty, non-nil list asks for the accounts of no identity.
	equal(t, "no identities", len(listAccounts(t, s, store.AccountQuery{IdentityIDs: []string{}})), 0)
}

func testListAccountsFilters(t *testing.T, s store.Store) {
	replace(t, s, "crm", acct("crm", "c-1", "hr/a"), acct("crm", "c-2", ""), acct("crm", "c-3", "hr/b"))
	replace(t, s, "erp", acct("erp", "e-1", ""), acct("erp", "e-2", "hr/a"))
	replace(t, s, "crm", acct("crm", "c-1", "hr/a"), acct("crm", "c-3", "hr/b")) // c-2 deleted
	for _, tc := range []struct {
		name string
		q    store.AccountQuery
		want []string
	}{
		{"all", store.AccountQuery{}, []string{"crm/c-1", "crm/c-3", "erp/e-1", "erp/e-2"}},
		{"with deleted", store.AccountQuery{IncludeDeleted: true}, []string{"crm/c-1", "crm/c-2", "crm/c-3", "erp/e-1", "erp/e-2"}},
		{"application", store.AccountQuery{ApplicationID: "erp"}, []string{"erp/e-1", "erp/e-2"}},
		{"uncorrelated", store.AccountQuery{Uncorrelated: true}, []string{"erp/e-1"}},
		{"uncorrelated with deleted", store.AccountQuery{Uncorrelated: true, IncludeDeleted: true}, []string{"crm/c-2", "erp/e-1"}},
		{"identity", store.AccountQuery{IdentityIDs: []string{"hr/a"}}, []string{"crm/c-1", "erp/e-2"}},
		{"after", store.AccountQuery{After: "crm/c-3"}, []string{"erp/e-1", "erp/e-2"}},
		{"after and limit", store.AccountQuery{After: "crm/c-1", Limit: 2, IncludeDeleted: true}, []string{"crm/c-2", "crm/c-3"}},
		{"limit", store.AccountQuery{Limit: 1}, []string{"crm/c-1"}},
	} {
		equal(t, tc.name, accountKeys(listAccounts(t, s, tc.q)), tc.want)
	}
}

func testCorrelateAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	replace(t, s, "crm", acct("crm", "c-1", ""), acct("crm", "c-2", "hr/a"))
	must(t, s.CorrelateAccount(ctx, "crm", "c-1", "hr/b"))
	must(t, s.CorrelateAccount(ctx, "crm", "c-2", ""))
	got := listAccounts(t, s, store.AccountQuery{IdentityIDs: []string{"hr/b"}})
	equal(t, "linked", accountKeys(got), []string{"crm/c-1"})
	equal(t, "linked identity", got[0].IdentityID, "hr/b")
	got = listAccounts(t, s, store.AccountQuery{Uncorrelated: true})
	equal(t, "unlinked", accountKeys(got), []string{"crm/c-2"})
	equal(t, "unlinked identity", got[0].IdentityID, "")
	wantErr(t, s.CorrelateAccount(ctx, "crm", "nope", "hr/a"), store.ErrNotFound, "CorrelateAccount of a missing account")
}

// testListAccountsByIdentityRange: the accounts of the identities whose
// keys a page of ListIdentities spans, and no others; deleted ones only
// when asked for.
func testListAccountsByIdentityRange(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []identity.Identity
	for i := range 30 {
		ids = append(ids, person("hr", fmt.Sprintf("u%03d", i), "ACTIVE"))
	}
	syncIDs(t, s, "hr", ids...)
	var crm []account.Account
	for i := range 30 {
		crm = append(crm, acct("crm", fmt.Sprintf("c%03d", i), fmt.Sprintf("hr/u%03d", i)))
	}
	crm = append(crm, acct("crm", "orphan", ""))
	replace(t, s, "crm", crm...)
	replace(t, s, "erp", acct("erp", "e-5", "hr/u005"), acct("erp", "e-25", "hr/u025"))

	page, err := s.ListIdentities(ctx, store.IdentityQuery{After: "hr/u009", Limit: 10})
	must(t, err)
	from, to := page[0].ID(), page[len(page)-1].ID()
	got := listAccounts(t, s, store.AccountQuery{IdentityFrom: from, IdentityTo: to})
	var keys []string
	for _, a := range got {
		keys = append(keys, a.ApplicationID+"/"+a.NativeID+"@"+a.IdentityID)
	}
	var want []string
	for i := 10; i < 20; i++ {
		want = append(want, fmt.Sprintf("crm/c%03d@hr/u%03d", i, i))
	}
	equal(t, "accounts of the page "+from+"…"+to, sorted(keys), sorted(want))

	// Aggregation no longer sees c015: it is left out unless deleted ones are asked for.
	replace(t, s, "crm", slices.Delete(slices.Clone(crm), 15, 16)...)
	equal(t, "live accounts of the page", len(listAccounts(t, s, store.AccountQuery{IdentityFrom: from, IdentityTo: to})), 9)
	equal(t, "with deleted", len(listAccounts(t, s, store.AccountQuery{IdentityFrom: from, IdentityTo: to, IncludeDeleted: true})), 10)
}
