// Package account defines an identity's access in one application, as a
// connector finds it in the target system.
package account

import (
	"fmt"
	"strings"
	"time"
)

// State is the lifecycle state of an account in its target.
type State string

// Account states.
const (
	Active   State = "active"
	Disabled State = "disabled"
	Deleted  State = "deleted"
)

// Account is one identity's access in one application.
type Account struct {
	// ApplicationID is the configured application that holds the account.
	ApplicationID string `json:"applicationId"`
	// NativeID is the target's own id (SCIM id, LDAP DN, ...).
	NativeID string `json:"nativeId"`
	// UserName is the account's login name in the target.
	UserName string `json:"userName"`
	// Email is the account's e-mail in the target, when it has one.
	Email string `json:"email,omitempty"`
	// State is active, disabled or deleted.
	State State `json:"state"`
	// Entitlements are the groups (by native id) the account belongs to.
	Entitlements []Entitlement `json:"entitlements,omitempty"`
	// Attributes holds any other attribute the connector reports.
	Attributes map[string]string `json:"attributes,omitempty"`
	// IdentityID is the correlated identity's key; empty when uncorrelated.
	IdentityID string `json:"identityId,omitempty"`
	// SeenAt is when aggregation last saw the account.
	SeenAt time.Time `json:"seenAt,omitzero"`
}

// Entitlement is a group or role membership of an account.
type Entitlement struct {
	// ID is the target's id of the group.
	ID string `json:"id"`
	// Name is the group's display name.
	Name string `json:"name,omitempty"`
}

// Field returns a correlatable field by name: userName, email, nativeId
// (also "id"), or an attribute name (optionally "attributes.NAME").
func (a Account) Field(name string) string {
	switch name {
	case "userName":
		return a.UserName
	case "email":
		return a.Email
	case "nativeId", "id":
		return a.NativeID
	}
	return a.Attributes[strings.TrimPrefix(name, "attributes.")]
}

// Action is what a revocation does to an account.
type Action string

// Actions.
const (
	// Disable keeps the account and turns its access off.
	Disable Action = "disable"
	// Delete removes the account.
	Delete Action = "delete"
	// Revoke removes the account's entitlements (groups) and keeps it.
	Revoke Action = "revoke"
	// Restore undoes a revocation: it re-enables the account and restores
	// the memberships it had before (only undo runs plan it).
	Restore Action = "restore"
)

// ParseAction validates an action name.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case Disable, Delete, Revoke:
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q (want disable, delete or revoke)", s)
}

// Satisfied reports whether the account is already in the state the action
// would leave it in, so that planning it again would change nothing.
func (a Account) Satisfied(act Action) bool {
	switch act {
	case Disable:
		return a.State == Disabled || a.State == Deleted
	case Delete:
		return a.State == Deleted
	case Revoke:
		return a.State == Deleted || len(a.Entitlements) == 0
	}
	return false
}
