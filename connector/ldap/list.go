package ldap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

const (
	// attrLocked is ppolicy's lock: operational, so asked for by name.
	attrLocked = "pwdAccountLockedTime"
	// permanentLock is the value that locks an account until an
	// administrator unlocks it; any other value is the time of a lockout
	// after failed logins, which pwdLockoutDuration may end by itself.
	permanentLock = "000001010000Z"
)

// extraAttributes are read into Account.Attributes for correlation and
// display, besides the user attribute and mail.
var extraAttributes = []string{"cn", "displayName", "givenName", "sn", "employeeNumber", "employeeType", "departmentNumber", "title"}

// userAttributes is what a user search asks for.
func (c *Connector) userAttributes() []string {
	attrs := []string{c.cfg.UserAttribute, "mail", attrLocked}
	for _, a := range extraAttributes {
		if !strings.EqualFold(a, c.cfg.UserAttribute) {
			attrs = append(attrs, a)
		}
	}
	return attrs
}

// ListAccounts lists every user under baseDN (and disabledDN) matching
// userFilter, with the groups under groupBaseDN whose member attribute
// holds the user's DN. Both searches are paged with pageSize.
func (c *Connector) ListAccounts(ctx context.Context, fn func(account.Account) error) error {
	memberOf := map[string][]account.Entitlement{} // canonical member DN → groups
	err := c.run(ctx, func(conn *goldap.Conn) error {
		clear(memberOf)
		return c.search(ctx, conn, c.cfg.GroupBaseDN, c.cfg.GroupFilter, []string{"cn", c.cfg.MemberAttribute}, func(e *goldap.Entry) error {
			ent := groupEntitlement(e)
			for _, m := range e.GetEqualFoldAttributeValues(c.cfg.MemberAttribute) {
				key := canonical(m)
				memberOf[key] = append(memberOf[key], ent)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("list groups: %w", c.fail("search "+c.cfg.GroupBaseDN, err))
	}

	for _, base := range c.userBases() {
		delivered := false
		err := c.run(ctx, func(conn *goldap.Conn) error {
			err := c.search(ctx, conn, base, c.cfg.UserFilter, c.userAttributes(), func(e *goldap.Entry) error {
				delivered = true
				if err := fn(c.toAccount(e, memberOf[canonical(e.DN)])); err != nil {
					return &callbackError{err}
				}
				return nil
			})
			if err != nil && delivered {
				return &noRetryError{err}
			}
			return err
		})
		var cb *callbackError
		switch {
		case errors.As(err, &cb):
			return cb.err
		case err != nil:
			return fmt.Errorf("list users: %w", c.fail("search "+base, err))
		}
	}
	return nil
}

// callbackError carries the caller's own error out of a search untouched.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// search runs a subtree search with the simple paged results control
// (RFC 2696), calling each per entry, page by page. It abandons the paged
// search on the server when each stops early.
func (c *Connector) search(ctx context.Context, conn *goldap.Conn, base, filter string, attrs []string, each func(*goldap.Entry) error) error {
	paging := goldap.NewControlPaging(uint32(c.cfg.PageSize))
	req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, c.timeLimit(), false,
		filter, attrs, []goldap.Control{paging})
	for page := 0; ; page++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if page > 0 { // run throttled the first
			if err := connector.Throttle(ctx); err != nil {
				return err
			}
		}
		res, err := conn.Search(req)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			if err := each(e); err != nil {
				if next := cookie(res); len(next) > 0 {
					paging.SetCookie(next)
					paging.PagingSize = 0 // size 0 with the cookie abandons the search
					_, _ = conn.Search(req)
				}
				return err
			}
		}
		next := cookie(res)
		if len(next) == 0 {
			return nil
		}
		paging.SetCookie(next)
	}
}

func cookie(res *goldap.SearchResult) []byte {
	if p, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
		return p.Cookie
	}
	return nil
}

// timeLimit is the server-side time limit of a search, in seconds.
func (c *Connector) timeLimit() int { return int(c.cfg.Timeout.Seconds()) }

func groupEntitlement(e *goldap.Entry) account.Entitlement {
	name := e.GetEqualFoldAttributeValue("cn")
	if name == "" {
		name = firstValue(e.DN)
	}
	return account.Entitlement{ID: e.DN, Name: name}
}

func (c *Connector) toAccount(e *goldap.Entry, groups []account.Entitlement) account.Account {
	state := account.Active
	if c.disabled(e) {
		state = account.Disabled
	}
	attrs := map[string]string{}
	for _, a := range e.Attributes {
		if len(a.Values) > 0 && a.Values[0] != "" {
			attrs[a.Name] = a.Values[0]
		}
	}
	if len(attrs) == 0 {
		attrs = nil
	}
	return account.Account{
		NativeID:     e.DN,
		UserName:     e.GetEqualFoldAttributeValue(c.cfg.UserAttribute),
		Email:        e.GetEqualFoldAttributeValue("mail"),
		State:        state,
		Entitlements: dedupe(groups),
		Attributes:   attrs,
	}
}

// disabled tells an entry that deprov (or an administrator) turned off: a
// permanent ppolicy lock, or a place under disabledDN. A lockout after
// failed logins is not: it may end by itself, and taking it for a disable
// would leave the account on when it does.
func (c *Connector) disabled(e *goldap.Entry) bool {
	return e.GetEqualFoldAttributeValue(attrLocked) == permanentLock || under(e.DN, c.cfg.DisabledDN)
}

// dedupe sorts entitlements by name then id and keeps one per group.
func dedupe(ents []account.Entitlement) []account.Entitlement {
	if len(ents) == 0 {
		return nil
	}
	out := slices.Clone(ents)
	slices.SortFunc(out, func(a, b account.Entitlement) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(canonical(a.ID), canonical(b.ID)))
	})
	return slices.CompactFunc(out, func(a, b account.Entitlement) bool { return sameDN(a.ID, b.ID) })
}
