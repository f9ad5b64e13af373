// Package connector defines how deprov reaches a target application. A
// connector is found by its configured type through a registry; what it can
// do is told by the small capability interfaces it implements, which the
// engine asks for by type assertion and never assumes.
package connector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/deprov/deprov/account"
)

// Connector is an open connection to one application. It has no methods of
// its own: capabilities are the interfaces below.
type Connector interface{}

// Lister lists every account of the application with its entitlements.
// It calls fn once per account, in any order, and stops at fn's first error.
type Lister interface {
	ListAccounts(ctx context.Context, fn func(account.Account) error) error
}

// Disabler turns an account's access off and keeps the account. Disabling a
// disabled account is success with Result.AlreadyDone set.
type Disabler interface {
	Disable(ctx context.Context, acct account.Account) (Result, error)
}

// Deleter removes an account. Deleting an account that is already gone is
// success with Result.AlreadyDone set.
type Deleter interface {
	Delete(ctx context.Context, acct account.Account) (Result, error)
}

// Revoker removes every entitlement (group membership) of an account and
// keeps the account. An account with no memberships left is success with
// Result.AlreadyDone set.
type Revoker interface {
	Revoke(ctx context.Context, acct account.Account) (Result, error)
}

// Enabler turns an account's access back on (undo of Disable). Enabling an
// active account is success with Result.AlreadyDone set.
type Enabler interface {
	Enable(ctx context.Context, acct account.Account) (Result, error)
}

// GroupAdder adds an account to a group (undo of Revoke). Adding an
// existing membership is success with Result.AlreadyDone set.
type GroupAdder interface {
	AddMembership(ctx context.Context, acct account.Account, groupID string) (Result, error)
}

// Closer is implemented by connectors that hold resources.
type Closer interface {
	Close() error
}

// Result tells what an action did in the target. An action that fails
// part-way returns, with its error, a Result whose Found says what it had
// already changed.
type Result struct {
	// AlreadyDone says the target was already in the wanted state.
	AlreadyDone bool
	// Detail is a short human-readable account of what changed.
	Detail string
	// Found is what the action found in the target before it changed it,
	// as far as it read: deprov records it for undo in place of what the
	// last aggregation saw, which may be out of date.
	Found Found
}

// Found is what an action read of an account in the target before
// changing it.
type Found struct {
	// State is the account's state; empty when the action did not read it.
	State account.State
	// Removed are the memberships the action removed.
	Removed []account.Entitlement
}

// RemovalReporter is implemented by connectors whose revoke reports in
// Found.Removed every membership it removes: for them, undo restores
// exactly those, not the memberships the last aggregation saw.
type RemovalReporter interface {
	ReportsRemovals()
}

// RetryableError is a failure worth trying again: the target is down,
// overloaded or rate limiting. After, when set, is how long the target asked
// to be left alone (Retry-After).
type RetryableError struct {
	Err   error
	After time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as a RetryableError.
func Retryable(err error, after time.Duration) error {
	return &RetryableError{Err: err, After: after}
}

// IsRetryable reports whether err, or any error it wraps, is retryable.
func IsRetryable(err error) bool {
	var re *RetryableError
	return errors.As(err, &re)
}

// ErrUnsupported is returned when an application cannot do an action.
var ErrUnsupported = errors.New("action not supported by this connector")

// Perform runs act on acct through c, asking c for the capability.
func Perform(ctx context.Context, c Connector, act account.Action, acct account.Account) (Result, error) {
	switch act {
	case account.Disable:
		if d, ok := c.(Disabler); ok {
			return d.Disable(ctx, acct)
		}
	case account.Delete:
		if d, ok := c.(Deleter); ok {
			return d.Delete(ctx, acct)
		}
	case account.Revoke:
		if r, ok := c.(Revoker); ok {
			return r.Revoke(ctx, acct)
		}
	}
	return Result{}, fmt.Errorf("%s: %w", act, ErrUnsupported)
}

// Settings is a connector's configuration block as written in the config
// file, with secrets already expanded. Keys are the YAML keys.
type Settings map[string]any

// Factory opens a connector of one type. Validate checks settings without
// contacting the target and returns one error per problem, each naming its
// key; it sees secrets unexpanded.
type Factory struct {
	// Open connects with expanded settings.
	Open func(s Settings) (Connector, error)
	// Validate reports every problem in s, as "key: what is wrong".
	Validate func(s Settings) []error
	// Secrets names the keys whose values are secrets, never printed back.
	Secrets []string
	// Lists says the connector is a Lister. One that cannot list is taken
	// to hold one account per identity (see the engine's aggregation).
	Lists bool
}

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a connector type available. It panics on a duplicate, as
// registration happens in init.
func Register(typ string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[typ]; dup {
		panic("connector: type registered twice: " + typ)
	}
	factories[typ] = f
}

// Lookup finds the factory for a type.
func Lookup(typ string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[typ]
	return f, ok
}

// Types lists the registered types, sorted.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Revocation describes the revocation an action is carried out for, for
// connectors that pass it on (a webhook's idempotency key, a work item).
type Revocation struct {
	ID            int64
	RuleID        string
	IdentityID    string
	ApplicationID string
}

type revocationKey struct{}

// WithRevocation returns ctx carrying r.
func WithRevocation(ctx context.Context, r Revocation) context.Context {
	return context.WithValue(ctx, revocationKey{}, r)
}

// RevocationFrom returns the revocation ctx carries, if any.
func RevocationFrom(ctx context.Context) (Revocation, bool) {
	r, ok := ctx.Value(revocationKey{}).(Revocation)
	return r, ok
}

// ErrWaiting is returned (wrapped in a *WorkItemError) by connectors that
// hand an action to a person instead of doing it: the revocation waits
// until someone completes or rejects it.
var ErrWaiting = errors.New("waiting for a person")

// WorkItemError says an action became a work item, with instructions.
type WorkItemError struct {
	// Instructions tell the person what to do in the application.
	Instructions string
	// Assignee is who should do it (a team, a queue, an e-mail address).
	Assignee string
}

func (e *WorkItemError) Error() string { return "work item: " + e.Instructions }
func (e *WorkItemError) Unwrap() error { return ErrWaiting }

// Waiter paces requests; *rate.Limiter is one.
type Waiter interface {
	Wait(ctx context.Context) error
}

type waiterKey struct{}

// WithWaiter returns ctx carrying the application's rate limiter, shared by
// every worker of the node.
func WithWaiter(ctx context.Context, w Waiter) context.Context {
	return context.WithValue(ctx, waiterKey{}, w)
}

// Throttle waits for the rate limiter ctx carries, if any. Connectors call
// it before every request they send to the target, so that `rateLimit`
// bounds requests, not revocations.
func Throttle(ctx context.Context) error {
	if w, ok := ctx.Value(waiterKey{}).(Waiter); ok {
		return w.Wait(ctx)
	}
	return nil
}
