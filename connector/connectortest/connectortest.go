// Package connectortest is the conformance suite every connector passes
// against its real target. A connector's test file describes how to start
// that target and read it directly (a Harness), and calls Run:
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, connectortest.Harness{PageSize: 2, Open: ..., BadCredentials: ..., Down: ...})
//	}
//
// The suite checks what the engine relies on: aggregation reads every page
// with group memberships; disable, delete and revoke change the target and
// are idempotent (a repeat is success with Result.AlreadyDone); enable and
// add-membership undo them; wrong credentials fail at once with a clear,
// non-retryable error that holds no secret; an unreachable target gives a
// retryable error. An action that a connector hands to a person as a work
// item (connector.ErrWaiting) is checked as such. A subtest is skipped only
// when the connector lacks the capability it checks, and the skip says so.
package connectortest

import (
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// Harness is what a connector's test provides to the suite.
type Harness struct {
	// PageSize is the page size of the connectors Open returns. The suite
	// aggregates more than two pages of accounts and more than one page of
	// groups. Zero means the connector does not page; the suite then uses
	// five accounts.
	PageSize int

	// Open starts a target of its own holding these users (by userName,
	// each active) and groups (name → member userNames), and returns a
	// connector on it. Subtests run in parallel, each with its own target;
	// Open stops what it starts with t.Cleanup.
	Open func(t *testing.T, users []string, groups map[string][]string) Target

	// BadCredentials returns a connector to good's target that presents
	// wrong credentials, and the secrets (the wrong and the right ones) that
	// must appear in no error. Nil only for a connector that reaches no
	// target (a manual one): the subtest is then skipped, saying so.
	BadCredentials func(t *testing.T, good Target) (c connector.Connector, secrets []string)

	// CredentialsHint, when set, is text the error for wrong credentials
	// must contain, such as "check bindDN and bindPassword": an operator
	// reads it and knows what to fix.
	CredentialsHint string

	// Down returns a connector configured like Open's whose target cannot
	// be reached (a closed port on loopback). Nil only for a connector that
	// reaches no target.
	Down func(t *testing.T) connector.Connector
}

// Target is one running target with a connector on it.
type Target struct {
	// Connector is the connector under test, opened on this target.
	Connector connector.Connector

	// State reads a user's state in the target directly, not through the
	// connector.
	State func(t *testing.T, userName string) State

	// Account returns userName's account as aggregation would have stored
	// it (NativeID, UserName, Email, Entitlements). It may be nil for a
	// connector.Lister: the suite then lists the target through the
	// connector and takes the account from there.
	Account func(t *testing.T, userName string) account.Account

	// Stop, when set, stops the target for good. The suite then expects
	// retryable errors from the connector that was talking to it.
	Stop func()
}

// State is a user's state in the target.
type State struct {
	// Exists is false once the account is deleted.
	Exists bool
	// Active is false while the account is disabled.
	Active bool
	// Groups are the names of the groups the account belongs to, in any
	// order. They are compared with the Entitlement names aggregation gives.
	Groups []string
}

// Run runs the suite. Every subtest calls t.Parallel.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("connectortest: Harness.Open is required")
	}
	s := &suite{h: h}
	t.Run("Aggregate", s.aggregate)
	t.Run("AggregateStopsAtCallbackError", s.aggregateStops)
	t.Run("DisableTwice", s.disableTwice)
	t.Run("EnableUndoesDisable", s.enableUndoesDisable)
	t.Run("DeleteTwice", s.deleteTwice)
	t.Run("RevokeTwice", s.revokeTwice)
	t.Run("AddMembershipUndoesRevoke", s.addMembershipUndoesRevoke)
	t.Run("WrongCredentials", s.wrongCredentials)
	t.Run("TargetDown", s.targetDown)
	t.Run("TargetStops", s.targetStops)
}

type suite struct{ h Harness }
