package connectortest

import (
	"slices"
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// Every action test holds alice (the account acted on) beside bob, who
// shares her groups and must come out untouched.

func (s *suite) disableTwice(t *testing.T) {
	t.Parallel()
	tg := s.h.Open(t, []string{"alice", "bob"}, map[string][]string{"staff": {"alice", "bob"}})
	d := need[connector.Disabler](t, tg.Connector, "Disabler")
	acct := accountOf(t, tg, "alice")
	wantState(t, tg, "alice", State{Exists: true, Active: true, Groups: []string{"staff"}}, "before Disable")

	res, err := d.Disable(ctx(t), acct)
	if handedOver(t, tg, "Disable", acct, err) {
		return
	}
	changed(t, "first Disable", res, err)
	if st := res.Found.State; st != "" && st != account.Active {
		t.Errorf("first Disable found the account %q, want active (or not read)", st)
	}
	disabled := State{Exists: true, Active: false, Groups: []string{"staff"}}
	wantState(t, tg, "alice", disabled, "after Disable (the account and its groups stay)")
	wantState(t, tg, "bob", State{Exists: true, Active: true, Groups: []string{"staff"}}, "after disabling alice")

	res, err = d.Disable(ctx(t), acct)
	alreadyDone(t, "second Disable", res, err)
	wantState(t, tg, "alice", disabled, "after the second Disable")

	if l, ok := tg.Connector.(connector.Lister); ok {
		again, found := listAll(t, l)["alice"]
		if !found {
			t.Fatal("a disabled account is no longer listed: aggregation would take it for deleted")
		}
		if again.State != account.Disabled {
			t.Errorf("aggregated state after Disable = %q, want disabled", again.State)
		}
		// The engine may hold the account as listed after the change.
		res, err = d.Disable(ctx(t), again)
		alreadyDone(t, "Disable of the account as listed after Disable", res, err)
	}
}

func (s *suite) enableUndoesDisable(t *testing.T) {
	t.Parallel()
	tg := s.h.Open(t, []string{"alice", "bob"}, map[string][]string{"staff": {"alice", "bob"}})
	d := need[connector.Disabler](t, tg.Connector, "Disabler")
	e := need[connector.Enabler](t, tg.Connector, "Enabler (disable cannot be undone through this connector)")
	acct := accountOf(t, tg, "alice")
	bob := accountOf(t, tg, "bob")
	active := State{Exists: true, Active: true, Groups: []string{"staff"}}

	res, err := e.Enable(ctx(t), bob)
	if handedOver(t, tg, "Enable", bob, err) {
		return
	}
	alreadyDone(t, "Enable of an active account", res, err)
	wantState(t, tg, "bob", active, "after Enable of an active account")

	if _, err := d.Disable(ctx(t), acct); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	res, err = e.Enable(ctx(t), acct)
	changed(t, "Enable after Disable", res, err)
	wantState(t, tg, "alice", active, "after Enable")

	res, err = e.Enable(ctx(t), acct)
	alreadyDone(t, "second Enable", res, err)
	wantState(t, tg, "alice", active, "after the second Enable")

	// Disable again: an undo is not the end of an account's life.
	res, err = d.Disable(ctx(t), acct)
	changed(t, "Disable after Enable", res, err)
	wantState(t, tg, "alice", State{Exists: true, Active: false, Groups: []string{"staff"}}, "after Disable, Enable, Disable")
}

func (s *suite) deleteTwice(t *testing.T) {
	t.Parallel()
	tg := s.h.Open(t, []string{"alice", "bob"}, map[string][]string{"staff": {"alice", "bob"}})
	d := need[connector.Deleter](t, tg.Connector, "Deleter")
	acct := accountOf(t, tg, "alice")

	res, err := d.Delete(ctx(t), acct)
	if handedOver(t, tg, "Delete", acct, err) {
		return
	}
	changed(t, "first Delete", res, err)
	wantState(t, tg, "alice", State{Exists: false}, "after Delete")
	wantState(t, tg, "bob", State{Exists: true, Active: true, Groups: []string{"staff"}}, "after deleting alice")

	res, err = d.Delete(ctx(t), acct)
	alreadyDone(t, "second Delete", res, err)

	if l, ok := tg.Connector.(connector.Lister); ok {
		if _, found := listAll(t, l)["alice"]; found {
			t.Error("a deleted account is still listed")
		}
	}
	if e, ok := tg.Connector.(connector.Enabler); ok {
		// A delete is not undoable, and must not be reported as undone.
		if res, err := e.Enable(ctx(t), acct); err == nil {
			t.Errorf("Enable after Delete = %+v, want an error (a deleted account cannot be enabled)", res)
		} else if connector.IsRetryable(err) {
			t.Errorf("Enable after Delete: %v is retryable; retrying cannot bring the account back", err)
		}
	}
}

func (s *suite) revokeTwice(t *testing.T) {
	t.Parallel()
	tg := s.h.Open(t, []string{"alice", "bob", "carol"}, map[string][]string{
		"staff":  {"alice", "bob"},
		"admins": {"alice", "bob"},
		"others": {"bob"},
	})
	r := need[connector.Revoker](t, tg.Connector, "Revoker")
	acct := accountOf(t, tg, "alice")

	res, err := r.Revoke(ctx(t), acct)
	if handedOver(t, tg, "Revoke", acct, err) {
		return
	}
	changed(t, "first Revoke", res, err)
	if _, ok := tg.Connector.(connector.RemovalReporter); ok {
		// A connector that reports its removals names exactly the groups left.
		if got := groupNames(res.Found.Removed); len(got) != 2 || !slices.Contains(got, "staff") || !slices.Contains(got, "admins") {
			t.Errorf("first Revoke reports removals from %v, want staff and admins", got)
		}
	}
	wantState(t, tg, "alice", State{Exists: true, Active: true}, "after Revoke (the account stays, its groups go)")
	wantState(t, tg, "bob", State{Exists: true, Active: true, Groups: []string{"staff", "admins", "others"}}, "after revoking alice")

	res, err = r.Revoke(ctx(t), acct)
	alreadyDone(t, "second Revoke", res, err)
	wantState(t, tg, "alice", State{Exists: true, Active: true}, "after the second Revoke")

	res, err = r.Revoke(ctx(t), accountOf(t, tg, "carol"))
	alreadyDone(t, "Revoke of an account in no group", res, err)
}

func (s *suite) addMembershipUndoesRevoke(t *testing.T) {
	t.Parallel()
	tg := s.h.Open(t, []string{"alice", "bob"}, map[string][]string{
		"staff":  {"alice", "bob"},
		"admins": {"alice", "bob"},
	})
	r := need[connector.Revoker](t, tg.Connector, "Revoker")
	g := need[connector.GroupAdder](t, tg.Connector, "GroupAdder (revoke cannot be undone through this connector)")
	acct := accountOf(t, tg, "alice")
	if names := entitlementNames(acct.Entitlements); !sameGroups(names, []string{"staff", "admins"}) {
		t.Fatalf("alice's account lists entitlements %v, want [admins staff]: the undo needs their IDs", sorted(names))
	}

	res, err := g.AddMembership(ctx(t), acct, acct.Entitlements[0].ID)
	if handedOver(t, tg, "AddMembership", acct, err) {
		return
	}
	alreadyDone(t, "AddMembership to a group the account is in", res, err)

	if _, err := r.Revoke(ctx(t), acct); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	for _, e := range acct.Entitlements {
		res, err := g.AddMembership(ctx(t), acct, e.ID)
		changed(t, "AddMembership("+e.Name+") after Revoke", res, err)
	}
	restored := State{Exists: true, Active: true, Groups: []string{"staff", "admins"}}
	wantState(t, tg, "alice", restored, "after AddMembership of every revoked group")
	for _, e := range acct.Entitlements {
		res, err := g.AddMembership(ctx(t), acct, e.ID)
		alreadyDone(t, "second AddMembership("+e.Name+")", res, err)
	}
	wantState(t, tg, "alice", restored, "after the second AddMembership")
	wantState(t, tg, "bob", restored, "after alice's round trip")
}

// groupNames are the names (else ids) of entitlements.
func groupNames(es []account.Entitlement) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
		if out[i] == "" {
			out[i] = e.ID
		}
	}
	return out
}
