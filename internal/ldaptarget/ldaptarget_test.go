package ldaptarget_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/internal/ldaptarget"
)

func TestTarget(t *testing.T) {
	t.Parallel()
	tg := ldaptarget.Start(t)

	alice := tg.AddUser(t, "alice", "pw-alice")
	bob := tg.AddUser(t, "bob", "pw-bob")
	staff := tg.AddGroup(t, "staff", alice, bob)

	if dn, found := tg.FindUser(t, "alice"); !found || dn != alice {
		t.Errorf("FindUser(alice) = %q, %v; want %q", dn, found, alice)
	}
	if _, found := tg.FindUser(t, "nobody"); found {
		t.Error("FindUser(nobody) found an entry")
	}
	if got := tg.GroupsOf(t, bob); !slices.Equal(got, []string{"staff"}) {
		t.Errorf("GroupsOf(bob) = %v, want [staff]", got)
	}
	if got := tg.GroupMembers(t, staff); len(got) != 2 {
		t.Errorf("GroupMembers(staff) = %v, want alice and bob", got)
	}
	if e, found := tg.Entry(t, alice, "mail"); !found || e["mail"][0] != "alice@example.com" {
		t.Errorf("Entry(alice) = %v, %v", e, found)
	}

	// The lock that disableMode lock relies on: ppolicy refuses the bind.
	if !tg.CanBind(t, alice, "pw-alice") || tg.CanBind(t, alice, "wrong") {
		t.Fatal("alice's bind does not depend on her password")
	}
	lock := ldap.NewModifyRequest(alice, nil)
	lock.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
	tg.Modify(t, lock)
	if tg.CanBind(t, alice, "pw-alice") {
		t.Error("alice can bind with pwdAccountLockedTime set")
	}
	if !tg.CanBind(t, bob, "pw-bob") {
		t.Error("bob cannot bind")
	}

	// refint: a rename carries the memberships along.
	move := ldap.NewModifyDNRequest(alice, "uid=alice", true, ldaptarget.DisabledDN)
	if err := conn(t, tg).ModifyDN(move); err != nil {
		t.Fatal(err)
	}
	moved, _ := tg.FindUser(t, "alice")
	if !ldaptarget.IsUnder(moved, ldaptarget.DisabledDN) {
		t.Errorf("alice is at %s after the move", moved)
	}
	// refint rewrites member values in a background thread: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for got := tg.GroupsOf(t, moved); !slices.Equal(got, []string{"staff"}); got = tg.GroupsOf(t, moved) {
		if time.Now().After(deadline) {
			t.Fatalf("GroupsOf(moved alice) = %v, want [staff]", got)
		}
		time.Sleep(10 * time.Millisecond)
	}

	tg.Restart(t)
	if _, found := tg.FindUser(t, "bob"); !found {
		t.Error("bob is gone after a restart")
	}
	tg.Stop()
	if _, err := ldap.DialURL(tg.URL); err == nil {
		t.Error("the target still answers after Stop")
	}
}

func TestTargetTLS(t *testing.T) {
	t.Parallel()
	tg := ldaptarget.Start(t, ldaptarget.WithTLS())
	pem, err := os.ReadFile(tg.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	c, err := ldap.DialURL(tg.LDAPSURL, ldap.DialWithTLSConfig(cfg))
	if err != nil {
		t.Fatalf("LDAPS: %v", err)
	}
	defer c.Close()
	if err := c.Bind(ldaptarget.AdminDN, tg.AdminPassword); err != nil {
		t.Fatalf("bind over LDAPS: %v", err)
	}

	c2, err := ldap.DialURL(tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.StartTLS(cfg); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := c2.Bind(ldaptarget.AdminDN, tg.AdminPassword); err != nil {
		t.Fatalf("bind after StartTLS: %v", err)
	}
}

func conn(t *testing.T, tg *ldaptarget.Target) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(tg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(ldaptarget.AdminDN, tg.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return c
}
