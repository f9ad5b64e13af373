// Package rule decides who a deprovisioning rule matches and what it would
// do: trigger (statuses, end date ± offset, CEL hook), scope, exclusion
// applications, actions and grace period. It is pure: it takes identities,
// their accounts and a time, and returns decisions and plan items; it knows
// nothing of storage or connectors.
package rule

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/identity"
)

// Spec is what evaluation needs of a rule.
type Spec struct {
	// ID is the rule's id.
	ID string
	// Statuses fire on the identity's status, case-insensitively.
	Statuses []string
	// EndDateOffsetDays, when set, fires once end date + offset days is at or before now.
	EndDateOffsetDays *int
	// HookCEL is a boolean CEL expression over user, accounts and now.
	HookCEL string
	// HookFunc is custom logic outside the rule (a URL hook called by the
	// engine): it says whether to deprovision, and why. An error never
	// deprovisions.
	HookFunc func(identity.Identity, []account.Account) (bool, string, error)
	// Scope is an optional boolean CEL expression; identities outside it are not evaluated further.
	Scope string
	// Location interprets date-only end dates (midnight there) and counts days; nil means UTC.
	Location *time.Location
	// GracePeriodDays is how long after the first match a revocation is due.
	GracePeriodDays int
	// Exclusions maps excluded application ids to the exclusion.
	Exclusions map[string]Exclusion
	// Actions is the action for each configured application.
	Actions map[string]account.Action
}

// Exclusion keeps a rule away from an application, for a reason and
// possibly until a time.
type Exclusion struct {
	Reason string
	// Until, when set, is when the exclusion stops applying.
	Until time.Time
}

// Compiled is a rule ready to evaluate many identities: its expressions
// are compiled once.
type Compiled struct {
	spec     Spec
	statuses map[string]bool
	hook     cel.Program
	scope    cel.Program
	loc      *time.Location
}

// Compile validates and prepares a rule.
func Compile(s Spec) (*Compiled, error) {
	c := &Compiled{spec: s, statuses: map[string]bool{}, loc: s.Location}
	if c.loc == nil {
		c.loc = time.UTC
	}
	for _, st := range s.Statuses {
		c.statuses[strings.ToLower(strings.TrimSpace(st))] = true
	}
	var errs []error
	if s.HookCEL != "" {
		p, err := compile(s.HookCEL)
		if err != nil {
			errs = append(errs, fmt.Errorf("trigger.hook.cel: %w", err))
		}
		c.hook = p
	}
	if s.Scope != "" {
		p, err := compile(s.Scope)
		if err != nil {
			errs = append(errs, fmt.Errorf("scope: %w", err))
		}
		c.scope = p
	}
	if len(c.statuses) == 0 && s.EndDateOffsetDays == nil && s.HookCEL == "" && s.HookFunc == nil {
		errs = append(errs, errors.New("trigger: set at least one of statuses, endDate, hook"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Spec returns the rule's spec.
func (c *Compiled) Spec() Spec { return c.spec }

// Decision is the verdict of a rule on one identity.
type Decision struct {
	// InScope is false when the scope expression excluded the identity.
	InScope bool
	// Matched says a trigger fired in scope.
	Matched bool
	// Reasons non-empty with InScope false: the trigger fired out of scope.
	// Reasons lists each trigger that fired, for people.
	Reasons []string
	// Err is a scope or hook evaluation error; an error never deprovisions.
	Err error
}

// Reason joins the decision's reasons.
func (d Decision) Reason() string {
	r := strings.Join(d.Reasons, "; ")
	if d.Err != nil {
		if r != "" {
			r += "; "
		}
		r += d.Err.Error()
	}
	return r
}

// Decide evaluates scope and trigger for one identity at now. Any trigger
// that fires is enough; a hook error is reported and, when nothing else
// fires, leaves the identity unmatched. A URL hook is not called for an
// identity out of scope.
func (c *Compiled) Decide(id identity.Identity, accts []account.Account, now time.Time) Decision {
	var act *activation
	lazyVars := func() *activation {
		if act == nil {
			act = &activation{id: &id, accts: accts, now: now, loc: c.loc}
		}
		return act
	}
	d := Decision{InScope: true}
	if c.scope != nil {
		ok, err := evalBool(c.scope, lazyVars())
		if err != nil {
			return Decision{Err: fmt.Errorf("scope: %w", err)}
		}
		d.InScope = ok
	}
	if st := strings.ToLower(strings.TrimSpace(id.Status)); st != "" && c.statuses[st] {
		d.Reasons = append(d.Reasons, fmt.Sprintf("status %s", id.Status))
	}
	if off := c.spec.EndDateOffsetDays; off != nil && !id.EndDate.IsZero() {
		end := id.EndDate.In(c.loc)
		if due := AddDays(end, *off, c.loc); !due.After(now) {
			d.Reasons = append(d.Reasons, fmt.Sprintf("end date %s %+d days", id.EndDate, *off))
		}
	}
	if c.hook != nil {
		ok, err := evalBool(c.hook, lazyVars())
		switch {
		case err != nil:
			d.Err = fmt.Errorf("hook: %w", err)
		case ok:
			d.Reasons = append(d.Reasons, "hook")
		}
	}
	// A URL hook is called only for identities in scope: the others are
	// never the rule's business, and their data does not leave deprov.
	if c.spec.HookFunc != nil && d.Err == nil && d.InScope {
		ok, why, err := c.spec.HookFunc(id, accts)
		switch {
		case err != nil:
			d.Err = fmt.Errorf("hook: %w", err)
		case ok:
			d.Reasons = append(d.Reasons, "hook"+prefixed(": ", why))
		}
	}
	d.Matched = d.InScope && len(d.Reasons) > 0
	return d
}

// AddDays adds calendar days in loc, so that midnight stays midnight
// across a daylight-saving change.
func AddDays(t time.Time, days int, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, m, d := lt.Date()
	h, mi, s := lt.Clock()
	return time.Date(y, m, d+days, h, mi, s, lt.Nanosecond(), loc)
}

// DueAt is when a revocation of an identity first matched at firstMatch
// becomes due: firstMatch + gracePeriodDays calendar days in the rule's
// location.
func (c *Compiled) DueAt(firstMatch time.Time) time.Time {
	if c.spec.GracePeriodDays == 0 {
		return firstMatch
	}
	return AddDays(firstMatch, c.spec.GracePeriodDays, c.loc)
}

// PlanInput is one identity to plan for.
type PlanInput struct {
	Identity identity.Identity
	Accounts []account.Account
	// FirstMatch is when the rule first matched the identity; zero means now.
	FirstMatch time.Time
	// Active holds the keys (ActiveKey) of revocations already scheduled or running.
	Active map[string]bool
	// Failed holds the keys (ActiveKey) of revocations that failed since
	// the identity began to match, with the id of each.
	Failed map[string]int64
}

// ActiveKey identifies a revocation for idempotence.
func ActiveKey(appID, accountID string, act account.Action) string {
	return appID + "\x00" + accountID + "\x00" + string(act)
}

// Plan returns the plan items of one identity at now and the decision.
// A matched identity yields one item per account, planned or skipped with
// its reason, or a single "no account" skip; an unmatched one yields none,
// except a scope or hook error, which is reported as a skip.
func (c *Compiled) Plan(in PlanInput, now time.Time) ([]Item, Decision) {
	d := c.Decide(in.Identity, in.Accounts, now)
	base := Item{IdentityID: in.Identity.ID(), UserName: in.Identity.UserName}
	if !d.Matched {
		switch {
		case !d.InScope && len(d.Reasons) > 0:
			base.Skip, base.Reason = SkipOutOfScope, d.Reason()
		case d.Err != nil:
			base.Skip, base.Reason = SkipHookError, d.Err.Error()
		default:
			return nil, d
		}
		return []Item{base}, d
	}
	first := in.FirstMatch
	if first.IsZero() {
		first = now
	}
	due := c.DueAt(first)
	reason := d.Reason()
	var items []Item
	for _, a := range sortedAccounts(in.Accounts) {
		if a.State == account.Deleted {
			continue
		}
		it := base
		it.ApplicationID, it.AccountID, it.AccountName, it.Reason = a.ApplicationID, a.NativeID, a.UserName, reason
		act, known := c.spec.Actions[a.ApplicationID]
		it.Action = act
		x, excluded := c.spec.Exclusions[a.ApplicationID]
		if excluded && !x.Until.IsZero() && !now.Before(x.Until) {
			excluded = false
			it.Reason += fmt.Sprintf("; exclusion of %s expired %s", a.ApplicationID, x.Until.Format(time.RFC3339))
		}
		switch {
		case excluded:
			it.Skip, it.Action = SkipExcluded, ""
			if x.Reason != "" {
				it.Reason = x.Reason
			}
			if !x.Until.IsZero() {
				it.Reason += " (until " + x.Until.Format(time.RFC3339) + ")"
			}
		case !known:
			it.Skip = SkipUnknownApplication
		case in.Active[ActiveKey(a.ApplicationID, a.NativeID, act)]:
			it.Skip = SkipAlreadyScheduled
		case a.Satisfied(act):
			it.Skip, it.Reason = SkipAlreadyDone, fmt.Sprintf("account is %s", a.State)
		case in.Failed[ActiveKey(a.ApplicationID, a.NativeID, act)] != 0:
			id := in.Failed[ActiveKey(a.ApplicationID, a.NativeID, act)]
			it.Skip, it.Reason = SkipFailed, fmt.Sprintf("revocation %d failed; retry it with deprov revocations retry %d", id, id)
		default:
			it.DueAt = due
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		base.Skip, base.Reason = SkipNoAccount, reason
		items = append(items, base)
	}
	return items, d
}

func sortedAccounts(in []account.Account) []account.Account {
	out := append([]account.Account(nil), in...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].ApplicationID != out[j].ApplicationID {
			return out[i].ApplicationID < out[j].ApplicationID
		}
		return out[i].NativeID < out[j].NativeID
	})
	return out
}

// Tally adds one identity's items and decision to the counts.
func (n *Counts) Tally(items []Item, d Decision) {
	n.Evaluated++
	if d.InScope {
		n.InScope++
	}
	if d.Matched {
		n.Matched++
	}
	planned := false
	for _, it := range items {
		if it.Planned() {
			n.Planned++
			planned = true
		} else {
			n.Skipped++
		}
	}
	if planned {
		n.Users++
	}
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
