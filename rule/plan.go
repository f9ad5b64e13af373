package rule

import (
	"time"

	"github.com/deprov/deprov/account"
)

// Skip says why an account of a matched (or considered) identity is not
// planned. The empty Skip means the item is planned.
type Skip string

// Skip reasons.
const (
	// SkipExcluded: the application is in the rule's excludeApplications.
	SkipExcluded Skip = "excluded"
	// SkipNoAccount: the identity matched but has no account in any application.
	SkipNoAccount Skip = "no account"
	// SkipAlreadyScheduled: the same revocation is scheduled or running.
	SkipAlreadyScheduled Skip = "already scheduled"
	// SkipOutOfScope: the identity matched the trigger but not the scope.
	SkipOutOfScope Skip = "out of scope"
	// SkipAlreadyDone: the account is already in the state the action leaves it in.
	SkipAlreadyDone Skip = "already done"
	// SkipHookError: a hook failed; a failing hook never deprovisions.
	SkipHookError Skip = "hook error"
	// SkipUnknownApplication: the account's application is no longer configured.
	SkipUnknownApplication Skip = "unknown application"
	// SkipFailed: the same revocation failed (or its work item was
	// rejected) since the identity began to match: it waits for a person
	// to retry it, rather than being planned again by every run.
	SkipFailed Skip = "failed"
)

// Item is one line of a plan: an identity × application × action, planned
// or skipped with a reason.
type Item struct {
	IdentityID    string         `json:"identityId"`
	UserName      string         `json:"userName"`
	ApplicationID string         `json:"applicationId,omitempty"`
	AccountID     string         `json:"accountId,omitempty"`
	AccountName   string         `json:"accountName,omitempty"`
	Action        account.Action `json:"action,omitempty"`
	// Skip is empty for a planned item.
	Skip Skip `json:"skip,omitempty"`
	// Reason says why the identity matched, or details the skip.
	Reason string `json:"reason,omitempty"`
	// DueAt is when the revocation becomes due (first match + grace).
	DueAt time.Time `json:"dueAt,omitzero"`
}

// Planned reports whether the item is a revocation to schedule.
func (i Item) Planned() bool { return i.Skip == "" }

// Counts summarises a plan.
type Counts struct {
	// Evaluated identities were read from the store.
	Evaluated int `json:"evaluated"`
	// InScope passed the rule's scope.
	InScope int `json:"inScope"`
	// Matched identities fired the trigger (in scope).
	Matched int `json:"matched"`
	// Planned revocations.
	Planned int `json:"planned"`
	// Skipped items.
	Skipped int `json:"skipped"`
	// Identities with at least one planned revocation.
	Users int `json:"users"`
}
