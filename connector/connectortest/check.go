package connectortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// callTimeout bounds one connector call, so a hanging target fails the test
// instead of stalling it.
const callTimeout = time.Minute

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return c
}

// need skips the test unless c implements capability T, saying which.
func need[T any](t *testing.T, c connector.Connector, iface string) T {
	t.Helper()
	v, ok := c.(T)
	if !ok {
		t.Skipf("the connector (%T) does not implement connector.%s: nothing to check", c, iface)
	}
	return v
}

// accountOf returns userName's account: from the harness, or by listing.
func accountOf(t *testing.T, tg Target, userName string) account.Account {
	t.Helper()
	if tg.Account != nil {
		a := tg.Account(t, userName)
		if a.UserName != userName {
			t.Fatalf("Target.Account(%q) returned an account named %q", userName, a.UserName)
		}
		return a
	}
	l, ok := tg.Connector.(connector.Lister)
	if !ok {
		t.Fatalf("connectortest: Target.Account is required: %T is not a connector.Lister", tg.Connector)
	}
	a, found := listAll(t, l)[userName]
	if !found {
		t.Fatalf("account %q not listed by ListAccounts", userName)
	}
	return a
}

// listAll lists every account by userName, failing on duplicates.
func listAll(t *testing.T, l connector.Lister) map[string]account.Account {
	t.Helper()
	got := map[string]account.Account{}
	err := l.ListAccounts(ctx(t), func(a account.Account) error {
		if _, dup := got[a.UserName]; dup {
			t.Errorf("account %q listed twice", a.UserName)
		}
		got[a.UserName] = a
		return nil
	})
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	return got
}

// want is an expected State; groups in any order.
func wantState(t *testing.T, tg Target, userName string, want State, when string) {
	t.Helper()
	got := tg.State(t, userName)
	if !want.Exists {
		if got.Exists {
			t.Errorf("%s: %s still exists in the target: %s", when, userName, got)
		}
		return
	}
	if !sameGroups(got.Groups, want.Groups) || got.Exists != want.Exists || got.Active != want.Active {
		t.Errorf("%s: %s in the target is %s, want %s", when, userName, got, want)
	}
}

func (s State) String() string {
	switch {
	case !s.Exists:
		return "gone"
	case s.Active:
		return fmt.Sprintf("active in %v", sorted(s.Groups))
	default:
		return fmt.Sprintf("disabled in %v", sorted(s.Groups))
	}
}

func sameGroups(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func entitlementNames(ents []account.Entitlement) []string {
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

// changed checks the first call of an action: success, a change, a detail.
func changed(t *testing.T, what string, res connector.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if res.AlreadyDone {
		t.Fatalf("%s = AlreadyDone (%q), want a change", what, res.Detail)
	}
	if strings.TrimSpace(res.Detail) == "" {
		t.Errorf("%s: Result.Detail is empty, want a word on what changed", what)
	}
}

// alreadyDone checks a repeated call: success with AlreadyDone.
func alreadyDone(t *testing.T, what string, res connector.Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v, want success with AlreadyDone", what, err)
	}
	if !res.AlreadyDone {
		t.Fatalf("%s = changed (%q), want AlreadyDone", what, res.Detail)
	}
	if strings.TrimSpace(res.Detail) == "" {
		t.Errorf("%s: Result.Detail is empty, want a word on why nothing changed", what)
	}
}

// handedOver tells an action that became a work item for a person
// (connector.ErrWaiting, as a manual connector answers): the suite checks
// the work item, not retryable and naming the account, and that the target
// is as it was; the rest of the subtest is a person's to do.
func handedOver(t *testing.T, tg Target, what string, acct account.Account, err error) bool {
	t.Helper()
	if !errors.Is(err, connector.ErrWaiting) {
		return false
	}
	var wi *connector.WorkItemError
	switch {
	case !errors.As(err, &wi):
		t.Errorf("%s: %v wraps connector.ErrWaiting without a *connector.WorkItemError", what, err)
		return true
	case connector.IsRetryable(err):
		t.Errorf("%s: the work item %v is retryable: a retry would file it again", what, err)
	case !strings.Contains(wi.Instructions, acct.UserName):
		t.Errorf("%s: the work item %q does not name the account %s", what, wi.Instructions, acct.UserName)
	}
	t.Logf("%s became a work item for %q: %s", what, wi.Assignee, wi.Instructions)
	if now := tg.State(t, acct.UserName); !now.Exists || !now.Active {
		t.Errorf("%s: after handing the action to a person, %s in the target is %s: it changed by itself", what, acct.UserName, now)
	}
	return true
}

// call is one capability of a connector, run on one account.
type call struct {
	name string
	run  func(context.Context) error
}

// calls lists every capability c has, each called on acct. groupID is the
// group AddMembership is called with.
func calls(c connector.Connector, acct account.Account, groupID string) []call {
	var out []call
	if l, ok := c.(connector.Lister); ok {
		out = append(out, call{"ListAccounts", func(ctx context.Context) error {
			return l.ListAccounts(ctx, func(account.Account) error { return nil })
		}})
	}
	result := func(f func(context.Context, account.Account) (connector.Result, error)) func(context.Context) error {
		return func(ctx context.Context) error { _, err := f(ctx, acct); return err }
	}
	if d, ok := c.(connector.Disabler); ok {
		out = append(out, call{"Disable", result(d.Disable)})
	}
	if d, ok := c.(connector.Deleter); ok {
		out = append(out, call{"Delete", result(d.Delete)})
	}
	if r, ok := c.(connector.Revoker); ok {
		out = append(out, call{"Revoke", result(r.Revoke)})
	}
	if e, ok := c.(connector.Enabler); ok {
		out = append(out, call{"Enable", result(e.Enable)})
	}
	if g, ok := c.(connector.GroupAdder); ok {
		out = append(out, call{"AddMembership", func(ctx context.Context) error {
			_, err := g.AddMembership(ctx, acct, groupID)
			return err
		}})
	}
	return out
}

func closeLater(t *testing.T, c connector.Connector) {
	if cl, ok := c.(connector.Closer); ok {
		t.Cleanup(func() { _ = cl.Close() })
	}
}
