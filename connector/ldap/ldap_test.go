package ldap_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/ldap"
	"github.com/deprov/deprov/internal/ldaptarget"
)

type bundle struct {
	tg *ldaptarget.Target
	c  *ldap.Connector
}

// setup starts a directory and opens a connector on it through the
// registry, as the engine would.
func setup(t *testing.T, mode string, extra connector.Settings) bundle {
	t.Helper()
	t.Parallel()
	tg := ldaptarget.Start(t)
	s := settings(tg, mode)
	for k, v := range extra {
		s[k] = v
	}
	return bundle{tg: tg, c: open(t, s)}
}

func open(t *testing.T, s connector.Settings) *ldap.Connector {
	t.Helper()
	f, ok := connector.Lookup("ldap")
	if !ok {
		t.Fatal(`connector type "ldap" is not registered`)
	}
	if errs := f.Validate(s); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	c, err := f.Open(s)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.(connector.Closer).Close() })
	return c.(*ldap.Connector)
}

func listAll(t *testing.T, c *ldap.Connector) map[string]account.Account {
	t.Helper()
	got := map[string]account.Account{}
	err := c.ListAccounts(context.Background(), func(a account.Account) error {
		got[a.UserName] = a
		return nil
	})
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	return got
}

func TestListAccounts(t *testing.T) {
	b := setup(t, "lock", nil)
	alice := b.tg.AddUser(t, "alice", "pw")
	bob := b.tg.AddUser(t, "bob", "pw")
	staff := b.tg.AddGroup(t, "staff", alice, bob)
	// A member value spelled differently from the entry's DN is the same member.
	odd := b.tg.AddGroup(t, "odd", "UID=Alice, OU=People, DC=example, DC=com")

	got := listAll(t, b.c)
	a := got["alice"]
	if a.NativeID != alice || a.Email != "alice@example.com" || a.State != account.Active {
		t.Errorf("alice = %+v", a)
	}
	want := []account.Entitlement{{ID: odd, Name: "odd"}, {ID: staff, Name: "staff"}}
	if !slices.Equal(a.Entitlements, want) {
		t.Errorf("alice's entitlements = %v, want %v", a.Entitlements, want)
	}
	if a.Attributes["uid"] != "alice" || a.Attributes["cn"] != "User alice" || a.Attributes["mail"] != "alice@example.com" {
		t.Errorf("alice's attributes = %v, want uid, cn and mail for correlation", a.Attributes)
	}
	if _, ok := a.Attributes["userPassword"]; ok {
		t.Error("the password hash is among the attributes")
	}
}

func TestLockSetsPermanentLock(t *testing.T) {
	b := setup(t, "lock", nil)
	dn := b.tg.AddUser(t, "alice", "pw")
	acct := listAll(t, b.c)["alice"]

	res, err := b.c.Disable(context.Background(), acct)
	if err != nil || res.AlreadyDone {
		t.Fatalf("Disable = %+v, %v", res, err)
	}
	if e, _ := b.tg.Entry(t, dn, "pwdAccountLockedTime"); !slices.Equal(e["pwdAccountLockedTime"], []string{"000001010000Z"}) {
		t.Errorf("pwdAccountLockedTime = %v, want 000001010000Z", e["pwdAccountLockedTime"])
	}
	if b.tg.CanBind(t, dn, "pw") {
		t.Error("alice can still bind")
	}

	res, err = b.c.Enable(context.Background(), acct)
	if err != nil || res.AlreadyDone || !strings.Contains(res.Detail, "removed pwdAccountLockedTime") {
		t.Fatalf("Enable = %+v, %v; want the lock removed, and said so", res, err)
	}
	if e, _ := b.tg.Entry(t, dn, "pwdAccountLockedTime"); len(e["pwdAccountLockedTime"]) != 0 || !b.tg.CanBind(t, dn, "pw") {
		t.Errorf("after Enable: %v, can bind %v", e, b.tg.CanBind(t, dn, "pw"))
	}
}

// A lockout after failed logins may end by itself: it is not a disable.
func TestTemporaryLockoutIsNotDisabled(t *testing.T) {
	b := setup(t, "lock", nil)
	dn := b.tg.AddUser(t, "alice", "pw")
	m := goldap.NewModifyRequest(dn, nil)
	m.Replace("pwdAccountLockedTime", []string{"20260101000000Z"})
	b.tg.Modify(t, m)

	acct := listAll(t, b.c)["alice"]
	if acct.State != account.Active || acct.Attributes["pwdAccountLockedTime"] != "20260101000000Z" {
		t.Errorf("listed %s with attributes %v; want active, with the lockout time shown", acct.State, acct.Attributes)
	}
	res, err := b.c.Disable(context.Background(), acct)
	if err != nil || res.AlreadyDone {
		t.Fatalf("Disable = %+v, %v; want the lockout made permanent", res, err)
	}
	if e, _ := b.tg.Entry(t, dn, "pwdAccountLockedTime"); !slices.Equal(e["pwdAccountLockedTime"], []string{"000001010000Z"}) {
		t.Errorf("pwdAccountLockedTime = %v", e["pwdAccountLockedTime"])
	}
}

func TestMoveKeepsMembershipsAndMovesBack(t *testing.T) {
	b := setup(t, "move", nil)
	alice := b.tg.AddUser(t, "alice", "pw")
	bob := b.tg.AddUser(t, "bob", "pw")
	staff := b.tg.AddGroup(t, "staff", alice, bob)
	acct := listAll(t, b.c)["alice"]

	res, err := b.c.Disable(context.Background(), acct)
	moved := "uid=alice," + ldaptarget.DisabledDN
	if err != nil || res.Detail != "moved "+alice+" to "+moved {
		t.Fatalf("Disable = %+v, %v", res, err)
	}
	if !slices.Contains(b.tg.GroupMembers(t, staff), moved) {
		t.Errorf("staff members = %v, want the moved DN (refint)", b.tg.GroupMembers(t, staff))
	}
	listed := listAll(t, b.c)["alice"]
	if listed.NativeID != moved || listed.State != account.Disabled || len(listed.Entitlements) != 1 {
		t.Errorf("listed after the move: %+v", listed)
	}

	// Undo with the account as listed after the move: back under baseDN.
	res, err = b.c.Enable(context.Background(), listed)
	if err != nil || res.Detail != "moved "+moved+" back to "+alice {
		t.Fatalf("Enable = %+v, %v", res, err)
	}
	if dn, _ := b.tg.FindUser(t, "alice"); dn != alice {
		t.Errorf("alice is at %s after Enable", dn)
	}
}

func TestRevokeLastMember(t *testing.T) {
	b := setup(t, "lock", nil)
	alice := b.tg.AddUser(t, "alice", "pw")
	bob := b.tg.AddUser(t, "bob", "pw")
	solo := b.tg.AddGroup(t, "solo", alice)
	staff := b.tg.AddGroup(t, "staff", alice, bob)
	acct := listAll(t, b.c)["alice"]

	for i := range 2 {
		_, err := b.c.Revoke(context.Background(), acct)
		var lm *ldap.LastMemberError
		switch {
		case !errors.As(err, &lm):
			t.Fatalf("Revoke #%d = %v, want a *LastMemberError", i+1, err)
		case connector.IsRetryable(err):
			t.Errorf("Revoke #%d: %v is retryable; a person must decide", i+1, err)
		case !slices.Equal(lm.Groups, []string{solo}):
			t.Errorf("Revoke #%d: groups kept = %v, want [%s]", i+1, lm.Groups, solo)
		case !strings.Contains(err.Error(), solo) || !strings.Contains(err.Error(), "last member"):
			t.Errorf("Revoke #%d: %q does not say which group and why", i+1, err)
		}
		if i == 0 && !slices.Equal(lm.Removed, []string{"staff"}) {
			t.Errorf("first Revoke: removed = %v, want [staff]", lm.Removed)
		}
	}
	if got := b.tg.GroupMembers(t, solo); !slices.Equal(got, []string{alice}) {
		t.Errorf("solo's members = %v: the group was broken", got)
	}
	if got := b.tg.GroupMembers(t, staff); !slices.Equal(got, []string{bob}) {
		t.Errorf("staff's members = %v, want bob only", got)
	}
}

func TestDeleteReportsLastMember(t *testing.T) {
	b := setup(t, "lock", nil)
	alice := b.tg.AddUser(t, "alice", "pw")
	bob := b.tg.AddUser(t, "bob", "pw")
	solo := b.tg.AddGroup(t, "solo", alice)
	staff := b.tg.AddGroup(t, "staff", alice, bob)

	res, err := b.c.Delete(context.Background(), listAll(t, b.c)["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Detail, "removed from 1 group(s): staff") || !strings.Contains(res.Detail, "still the last member of "+solo) {
		t.Errorf("Delete detail = %q, want the groups left and the one kept", res.Detail)
	}
	if _, found := b.tg.Entry(t, alice); found {
		t.Error("alice still exists")
	}
	if got := b.tg.GroupMembers(t, staff); !slices.Equal(got, []string{bob}) {
		t.Errorf("staff's members = %v", got)
	}
}

func TestLocateWithoutNativeID(t *testing.T) {
	b := setup(t, "lock", nil)
	dn := b.tg.AddUser(t, "alice", "pw")
	res, err := b.c.Disable(context.Background(), account.Account{UserName: "alice"})
	if err != nil || res.AlreadyDone || !strings.Contains(res.Detail, dn) {
		t.Fatalf("Disable by userName = %+v, %v", res, err)
	}
	res, err = b.c.Disable(context.Background(), account.Account{UserName: "nobody"})
	if err != nil || !res.AlreadyDone {
		t.Errorf("Disable(unknown userName) = %+v, %v; want AlreadyDone", res, err)
	}
}

// After a restart of the directory, the held connection is dead: the next
// action reconnects by itself instead of failing once.
func TestReconnectsAfterRestart(t *testing.T) {
	b := setup(t, "lock", nil)
	b.tg.AddUser(t, "alice", "pw")
	b.tg.AddUser(t, "bob", "pw")
	acct := listAll(t, b.c)["alice"]

	b.tg.Restart(t)
	if _, err := b.c.Disable(context.Background(), acct); err != nil {
		t.Fatalf("Disable after a restart: %v", err)
	}
	if got := listAll(t, b.c); got["alice"].State != account.Disabled || len(got) != 2 {
		t.Errorf("listed after a restart: %v", got)
	}
}

func TestUnexpandedReferenceRefusedAtOpen(t *testing.T) {
	t.Parallel()
	f, _ := connector.Lookup("ldap")
	_, err := f.Open(connector.Settings{"url": "${env:LDAP_URL}", "bindDN": "cn=a", "bindPassword": "x", "baseDN": "dc=x"})
	if err == nil || !strings.Contains(err.Error(), "url: reference not expanded") {
		t.Errorf("Open = %v", err)
	}
}

// waiter counts the rate limiter's turns, or refuses them.
type waiter struct {
	n   atomic.Int32
	err error
}

func (w *waiter) Wait(context.Context) error { w.n.Add(1); return w.err }

// Every request waits for the application's rate limiter: a listing of
// three pages of users and two of groups waits five times, at least.
func TestThrottle(t *testing.T) {
	b := setup(t, "lock", nil)
	var dns []string
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		dns = append(dns, b.tg.AddUser(t, u, "pw"))
	}
	b.tg.AddGroup(t, "g1", dns[0])
	b.tg.AddGroup(t, "g2", dns[1])
	b.tg.AddGroup(t, "g3", dns[2])

	w := &waiter{}
	ctx := connector.WithWaiter(context.Background(), w)
	if err := b.c.ListAccounts(ctx, func(account.Account) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := w.n.Load(); n < 5 {
		t.Errorf("listing waited %d times, want at least 5 (one per page)", n)
	}

	refused := errors.New("rate limiter closed")
	ctx = connector.WithWaiter(context.Background(), &waiter{err: refused})
	if _, err := b.c.Disable(ctx, account.Account{NativeID: dns[0], UserName: "u1"}); !errors.Is(err, refused) {
		t.Errorf("Disable with a refusing limiter = %v", err)
	}
	if !b.tg.CanBind(t, dns[0], "pw") {
		t.Error("u1 was disabled although the limiter refused")
	}
}
