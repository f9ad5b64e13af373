package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// Disable turns the account off by disableMode: lock sets
// pwdAccountLockedTime to 000001010000Z (ppolicy then refuses every bind);
// move renames the entry under disabledDN (with the refint overlay, group
// memberships follow the entry). An entry already locked for good, already
// under disabledDN, or gone is AlreadyDone.
func (c *Connector) Disable(ctx context.Context, acct account.Account) (connector.Result, error) {
	who := name(acct.UserName, acct.NativeID)
	e, err := c.locate(ctx, acct)
	switch {
	case err != nil:
		return connector.Result{}, fmt.Errorf("disable %s: %w", who, err)
	case e == nil:
		return connector.Result{AlreadyDone: true, Detail: "account no longer exists"}, nil
	case under(e.DN, c.cfg.DisabledDN):
		return connector.Result{AlreadyDone: true, Detail: "account already under disabledDN: " + e.DN, Found: connector.Found{State: account.Disabled}}, nil
	case e.GetEqualFoldAttributeValue(attrLocked) == permanentLock:
		return connector.Result{AlreadyDone: true, Detail: "account already locked (pwdAccountLockedTime " + permanentLock + ")", Found: connector.Found{State: account.Disabled}}, nil
	}
	found := connector.Found{State: account.Active}

	if c.cfg.DisableMode == Move {
		newDN, err := c.move(ctx, e.DN, c.cfg.DisabledDN)
		if err != nil {
			return connector.Result{Found: found}, fmt.Errorf("disable %s: %w", who, err)
		}
		return connector.Result{Detail: fmt.Sprintf("moved %s to %s", e.DN, newDN), Found: found}, nil
	}
	err = c.modify(ctx, e.DN, func(m *goldap.ModifyRequest) { m.Replace(attrLocked, []string{permanentLock}) })
	if goldap.IsErrorWithCode(err, goldap.LDAPResultUndefinedAttributeType) {
		err = fmt.Errorf("%w (the directory has no ppolicy overlay: load it with a default policy that has pwdLockout: TRUE, or use disableMode: move)", err)
	}
	if err != nil {
		return connector.Result{Found: found}, fmt.Errorf("disable %s: %w", who, err)
	}
	return connector.Result{Detail: fmt.Sprintf("locked %s: pwdAccountLockedTime set to %s", e.DN, permanentLock), Found: found}, nil
}

// Enable undoes Disable, whichever way the account was turned off: it
// removes pwdAccountLockedTime (a lock by deprov or a lockout after failed
// logins), and moves an entry under disabledDN back to where the account's
// NativeID had it (to baseDN when NativeID is itself under disabledDN). The
// Detail says which. An active account is AlreadyDone; a deleted one is an
// error, as it cannot come back.
func (c *Connector) Enable(ctx context.Context, acct account.Account) (connector.Result, error) {
	who := name(acct.UserName, acct.NativeID)
	e, err := c.locate(ctx, acct)
	switch {
	case err != nil:
		return connector.Result{}, fmt.Errorf("enable %s: %w", who, err)
	case e == nil:
		return connector.Result{}, fmt.Errorf("enable %s: account no longer exists in target: a deleted entry cannot be enabled", who)
	}
	var did []string
	if e.GetEqualFoldAttributeValue(attrLocked) != "" {
		err := c.modify(ctx, e.DN, func(m *goldap.ModifyRequest) { m.Delete(attrLocked, nil) })
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute) {
			return connector.Result{}, fmt.Errorf("enable %s: %w", who, err)
		}
		did = append(did, "removed pwdAccountLockedTime from "+e.DN)
	}
	if under(e.DN, c.cfg.DisabledDN) {
		dest := c.cfg.BaseDN
		if acct.NativeID != "" && !under(acct.NativeID, c.cfg.DisabledDN) {
			_, dest = splitRDN(acct.NativeID)
		}
		newDN, err := c.move(ctx, e.DN, dest)
		if err != nil {
			return connector.Result{}, fmt.Errorf("enable %s: %w", who, err)
		}
		did = append(did, fmt.Sprintf("moved %s back to %s", e.DN, newDN))
	}
	if len(did) == 0 {
		return connector.Result{AlreadyDone: true, Detail: "account already active"}, nil
	}
	return connector.Result{Detail: strings.Join(did, "; ")}, nil
}

// Delete removes the account from its groups, then deletes its entry. A
// group where it is the last member keeps it (groupOfNames requires a
// member): the delete goes ahead and the Detail names that group, whose
// member value then names a deleted entry. An entry already gone is
// AlreadyDone.
func (c *Connector) Delete(ctx context.Context, acct account.Account) (connector.Result, error) {
	who := name(acct.UserName, acct.NativeID)
	e, err := c.locate(ctx, acct)
	switch {
	case err != nil:
		return connector.Result{}, fmt.Errorf("delete %s: %w", who, err)
	case e == nil:
		return connector.Result{AlreadyDone: true, Detail: "account not found in target"}, nil
	}
	groups, err := c.groupsOf(ctx, e.DN)
	if err != nil {
		return connector.Result{}, fmt.Errorf("delete %s: %w", who, err)
	}
	removed, kept, err := c.leave(ctx, e.DN, groups)
	if err != nil {
		return connector.Result{}, fmt.Errorf("delete %s: %s%w", who, after(removed), err)
	}
	err = c.run(ctx, func(conn *goldap.Conn) error { return conn.Del(goldap.NewDelRequest(e.DN, nil)) })
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		// Gone meanwhile (or by the retry of a delete that succeeded).
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNotAllowedOnNonLeaf):
		return connector.Result{}, fmt.Errorf("delete %s: %s%w: the entry has entries below it; remove them first", who, after(removed), c.fail("delete "+e.DN, err))
	case err != nil:
		return connector.Result{}, fmt.Errorf("delete %s: %s%w", who, after(removed), c.fail("delete "+e.DN, err))
	}
	detail := "deleted " + e.DN
	if len(removed) > 0 {
		detail += fmt.Sprintf("; removed from %d group(s): %s", len(removed), names(removed))
	}
	if len(kept) > 0 {
		detail += fmt.Sprintf("; still the last member of %s (groupOfNames requires a member): that member value now names a deleted entry, remove it once the group has another member, or delete the group", dns(kept))
	}
	return connector.Result{Detail: detail}, nil
}

// LastMemberError is Revoke's answer when the account is the last member of
// groups whose class requires a member (groupOfNames): removing it would
// break the group, so it stays, and a person has to decide (add another
// member, or delete the group). Retrying alone does not help.
type LastMemberError struct {
	// Groups are the DNs of the groups the account is still in.
	Groups []string
	// Removed are the names of the groups it did leave.
	Removed []string
}

func (e *LastMemberError) Error() string {
	msg := fmt.Sprintf("cannot remove it from %s: it is the last member and groupOfNames requires one (LDAP 65 object class violation); add another member or delete the group, then revoke again", strings.Join(e.Groups, ", "))
	if len(e.Removed) > 0 {
		msg = fmt.Sprintf("removed from %s; %s", strings.Join(e.Removed, ", "), msg)
	}
	return msg
}

// Revoke removes the account's DN from the member attribute of every group
// under groupBaseDN that holds it. An account in no group, or gone, is
// AlreadyDone. Groups where it is the last member are left whole and
// reported as a *LastMemberError after every other group was left.
func (c *Connector) Revoke(ctx context.Context, acct account.Account) (connector.Result, error) {
	who := name(acct.UserName, acct.NativeID)
	e, err := c.locate(ctx, acct)
	switch {
	case err != nil:
		return connector.Result{}, fmt.Errorf("revoke %s: %w", who, err)
	case e == nil:
		return connector.Result{AlreadyDone: true, Detail: "account no longer exists"}, nil
	}
	groups, err := c.groupsOf(ctx, e.DN)
	if err != nil {
		return connector.Result{}, fmt.Errorf("revoke %s: %w", who, err)
	}
	removed, kept, err := c.leave(ctx, e.DN, groups)
	found := connector.Found{}
	for _, g := range removed {
		found.Removed = append(found.Removed, account.Entitlement{ID: g.dn, Name: g.name})
	}
	switch {
	case err != nil:
		return connector.Result{Found: found}, fmt.Errorf("revoke %s: %s%w", who, after(removed), err)
	case len(kept) > 0:
		return connector.Result{Found: found}, fmt.Errorf("revoke %s: %w", who, &LastMemberError{Groups: dnList(kept), Removed: nameList(removed)})
	case len(removed) == 0:
		return connector.Result{AlreadyDone: true, Detail: "no group memberships"}, nil
	}
	return connector.Result{Detail: fmt.Sprintf("removed from %d group(s): %s", len(removed), names(removed)), Found: found}, nil
}

// ReportsRemovals says that Revoke reports every membership it removes.
func (c *Connector) ReportsRemovals() {}

// AddMembership adds the account's DN to a group's member attribute,
// undoing Revoke for that group. The group must lie under groupBaseDN.
// A member already is AlreadyDone.
func (c *Connector) AddMembership(ctx context.Context, acct account.Account, groupID string) (connector.Result, error) {
	who := name(acct.UserName, acct.NativeID)
	fail := func(err error) (connector.Result, error) {
		return connector.Result{}, fmt.Errorf("add %s to group %s: %w", who, groupID, err)
	}
	if _, err := goldap.ParseDN(groupID); err != nil || !within(groupID, c.cfg.GroupBaseDN) {
		return fail(fmt.Errorf("not a group DN under groupBaseDN %s", c.cfg.GroupBaseDN))
	}
	e, err := c.locate(ctx, acct)
	switch {
	case err != nil:
		return fail(err)
	case e == nil:
		return fail(errors.New("account no longer exists in target"))
	}
	var exists, member bool
	filter := fmt.Sprintf("(%s=%s)", c.cfg.MemberAttribute, goldap.EscapeFilter(e.DN))
	err = c.run(ctx, func(conn *goldap.Conn) error {
		res, err := conn.Search(goldap.NewSearchRequest(groupID, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, c.timeLimit(), false,
			filter, []string{"1.1"}, nil))
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return nil
		}
		exists, member = err == nil, err == nil && len(res.Entries) > 0
		return err
	})
	switch {
	case err != nil:
		return fail(c.fail("read "+groupID, err))
	case !exists:
		return fail(errors.New("group no longer exists in target"))
	case member:
		return connector.Result{AlreadyDone: true, Detail: "already a member of " + firstValue(groupID)}, nil
	}
	err = c.modify(ctx, groupID, func(m *goldap.ModifyRequest) { m.Add(c.cfg.MemberAttribute, []string{e.DN}) })
	if err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultAttributeOrValueExists) {
			return connector.Result{AlreadyDone: true, Detail: "already a member of " + firstValue(groupID)}, nil
		}
		return fail(err)
	}
	return connector.Result{Detail: "added to group " + firstValue(groupID)}, nil
}

// locate finds the account's entry: at its NativeID (the DN aggregation
// saw), else where a move by deprov would have put it (the same RDN under
// disabledDN, or back under baseDN); without a NativeID, by userAttribute
// under the listed bases. It returns nil when there is no such entry.
func (c *Connector) locate(ctx context.Context, acct account.Account) (*goldap.Entry, error) {
	attrs := []string{c.cfg.UserAttribute, attrLocked}
	if acct.NativeID != "" {
		if _, err := goldap.ParseDN(acct.NativeID); err != nil {
			return nil, fmt.Errorf("native id %q is not a DN", acct.NativeID)
		}
		for i, dn := range c.candidates(acct.NativeID) {
			e, err := c.read(ctx, dn, attrs)
			if err != nil {
				return nil, err
			}
			// Elsewhere than its NativeID, the entry must be the same user.
			if e != nil && (i == 0 || acct.UserName == "" || strings.EqualFold(e.GetEqualFoldAttributeValue(c.cfg.UserAttribute), acct.UserName)) {
				return e, nil
			}
		}
		return nil, nil
	}
	if acct.UserName == "" {
		return nil, errors.New("account has neither a native id (DN) nor a userName")
	}
	filter := fmt.Sprintf("(&%s(%s=%s))", c.cfg.UserFilter, c.cfg.UserAttribute, goldap.EscapeFilter(acct.UserName))
	var found []*goldap.Entry
	for _, base := range c.userBases() {
		err := c.run(ctx, func(conn *goldap.Conn) error {
			return c.search(ctx, conn, base, filter, attrs, func(e *goldap.Entry) error {
				found = append(found, e)
				return nil
			})
		})
		if err != nil {
			return nil, c.fail("search "+base, err)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%d entries have %s=%s: give the account's DN as its native id", len(found), c.cfg.UserAttribute, acct.UserName)
}

// candidates are the DNs an account may have: its own, then its
// counterpart across a move by deprov.
func (c *Connector) candidates(dn string) []string {
	out := []string{dn}
	if c.cfg.DisabledDN == "" {
		return out
	}
	rdn, _ := splitRDN(dn)
	if under(dn, c.cfg.DisabledDN) {
		return append(out, rdn+","+c.cfg.BaseDN) // moved back by Enable
	}
	return append(out, rdn+","+c.cfg.DisabledDN)
}

// read reads one entry; nil when there is none.
func (c *Connector) read(ctx context.Context, dn string, attrs []string) (*goldap.Entry, error) {
	var e *goldap.Entry
	err := c.run(ctx, func(conn *goldap.Conn) error {
		res, err := conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, c.timeLimit(), false,
			"(objectClass=*)", attrs, nil))
		switch {
		case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
			return nil
		case err != nil:
			return err
		case len(res.Entries) > 0:
			e = res.Entries[0]
		}
		return nil
	})
	if err != nil {
		return nil, c.fail("read "+dn, err)
	}
	return e, nil
}

// modify applies one modify request built by change; errors are final
// (see fail) and keep the LDAP code for errors.As.
func (c *Connector) modify(ctx context.Context, dn string, change func(*goldap.ModifyRequest)) error {
	m := goldap.NewModifyRequest(dn, nil)
	change(m)
	err := c.run(ctx, func(conn *goldap.Conn) error { return conn.Modify(m) })
	if err == nil {
		return nil
	}
	return &ldapError{msg: c.fail("modify "+dn, err), code: err}
}

// ldapError keeps both the final message and the LDAP error it came from,
// so callers can test the result code.
type ldapError struct {
	msg  error // final: retryable or not
	code error // the *goldap.Error
}

func (e *ldapError) Error() string   { return e.msg.Error() }
func (e *ldapError) Unwrap() []error { return []error{e.msg, e.code} }

// move renames dn under newParent, keeping its RDN, and returns the new DN.
// The groups that held dn hold the new DN afterwards: the refint overlay
// does that, but later (in a background thread), and a directory without it
// never does; so move rewrites each member value itself, in one modify per
// group (delete the old value, add the new), which fails harmlessly with
// noSuchAttribute where refint was first. A member value left pointing at
// the old DN would also hand the groups to whoever is created there next.
func (c *Connector) move(ctx context.Context, dn, newParent string) (string, error) {
	rdn, _ := splitRDN(dn)
	newDN := rdn + "," + newParent
	groups, err := c.groupsOf(ctx, dn)
	if err != nil {
		return "", err
	}
	req := goldap.NewModifyDNRequest(dn, rdn, true, newParent)
	err = c.run(ctx, func(conn *goldap.Conn) error { return conn.ModifyDN(req) })
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists):
		return "", fmt.Errorf("cannot move %s under %s: %s already exists", dn, newParent, newDN)
	case err != nil:
		return "", c.fail("move "+dn+" under "+newParent, err)
	}
	for _, g := range groups {
		err := c.modify(ctx, g.dn, func(m *goldap.ModifyRequest) {
			m.Delete(c.cfg.MemberAttribute, []string{dn})
			m.Add(c.cfg.MemberAttribute, []string{newDN})
		})
		if err != nil && !goldap.IsErrorAnyOf(err, goldap.LDAPResultNoSuchAttribute, goldap.LDAPResultAttributeOrValueExists, goldap.LDAPResultNoSuchObject) {
			return "", fmt.Errorf("moved %s to %s, but its membership in %s still names the old DN: %w", dn, newDN, g.dn, err)
		}
	}
	return newDN, nil
}

// group is a group holding an account.
type group struct{ dn, name string }

// groupsOf lists the groups under groupBaseDN whose member attribute holds dn.
func (c *Connector) groupsOf(ctx context.Context, dn string) ([]group, error) {
	filter := fmt.Sprintf("(&%s(%s=%s))", c.cfg.GroupFilter, c.cfg.MemberAttribute, goldap.EscapeFilter(dn))
	var out []group
	err := c.run(ctx, func(conn *goldap.Conn) error {
		out = out[:0]
		return c.search(ctx, conn, c.cfg.GroupBaseDN, filter, []string{"cn"}, func(e *goldap.Entry) error {
			ent := groupEntitlement(e)
			out = append(out, group{dn: ent.ID, name: ent.Name})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find groups: %w", c.fail("search "+c.cfg.GroupBaseDN, err))
	}
	return out, nil
}

// leave removes dn from each group's member attribute. Groups that no
// longer hold it are skipped; groups where it is the last member are kept.
func (c *Connector) leave(ctx context.Context, dn string, groups []group) (removed, kept []group, err error) {
	for _, g := range groups {
		err := c.modify(ctx, g.dn, func(m *goldap.ModifyRequest) { m.Delete(c.cfg.MemberAttribute, []string{dn}) })
		switch {
		case err == nil:
			removed = append(removed, g)
		case goldap.IsErrorAnyOf(err, goldap.LDAPResultNoSuchAttribute, goldap.LDAPResultNoSuchObject):
			// Not a member any more, or the group is gone.
		case goldap.IsErrorWithCode(err, goldap.LDAPResultObjectClassViolation):
			kept = append(kept, g)
		default:
			return removed, kept, err
		}
	}
	return removed, kept, nil
}

// after introduces an error that followed some removals.
func after(removed []group) string {
	if len(removed) == 0 {
		return ""
	}
	return "after removal from " + names(removed) + ": "
}

func names(gs []group) string { return strings.Join(nameList(gs), ", ") }
func dns(gs []group) string   { return strings.Join(dnList(gs), ", ") }

func nameList(gs []group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.name
	}
	return out
}

func dnList(gs []group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.dn
	}
	return out
}
