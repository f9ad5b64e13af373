package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// patchOp is a SCIM PATCH request body (RFC 7644 §3.5.2).
type patchOp struct {
	Schemas    []string    `json:"schemas"`
	Operations []operation `json:"Operations"`
}

type operation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

func patch(ops ...operation) patchOp {
	return patchOp{Schemas: []string{patchOpSchema}, Operations: ops}
}

// Disable sets active to false. An account already inactive, or gone, is
// AlreadyDone.
func (c *Connector) Disable(ctx context.Context, acct account.Account) (connector.Result, error) {
	res, err := c.setActive(ctx, acct, false)
	if err != nil {
		return res, fmt.Errorf("disable %s: %w", name(acct), err)
	}
	return res, nil
}

// Enable sets active to true, undoing Disable. An account already active is
// AlreadyDone; one that no longer exists is an error, as it cannot be
// brought back.
func (c *Connector) Enable(ctx context.Context, acct account.Account) (connector.Result, error) {
	res, err := c.setActive(ctx, acct, true)
	if err != nil {
		return res, fmt.Errorf("enable %s: %w", name(acct), err)
	}
	return res, nil
}

// setActive reads the user first so that a repeat is told apart from a
// change; the PATCH itself is idempotent either way.
func (c *Connector) setActive(ctx context.Context, acct account.Account, active bool) (connector.Result, error) {
	path, err := userPath(acct)
	if err != nil {
		return connector.Result{}, err
	}
	gone := func() (connector.Result, error) {
		if active {
			return connector.Result{}, errors.New("account no longer exists in target")
		}
		return connector.Result{AlreadyDone: true, Detail: "account no longer exists"}, nil
	}
	state := map[bool]string{true: "active", false: "disabled"}[active]

	var before user
	_, err = c.do(ctx, http.MethodGet, path, nil, nil, &before)
	switch {
	case errors.Is(err, errNotFound):
		return gone()
	case err != nil:
		return connector.Result{}, err
	}
	found := connector.Found{State: account.Disabled}
	if before.active() {
		found.State = account.Active
	}
	if before.active() == active {
		return connector.Result{AlreadyDone: true, Detail: "account already " + state, Found: found}, nil
	}

	var after user
	status, err := c.do(ctx, http.MethodPatch, path, nil, patch(operation{Op: "replace", Path: "active", Value: active}), &after)
	switch {
	case errors.Is(err, errNotFound):
		return gone()
	case err != nil:
		return connector.Result{Found: found}, err
	case status == http.StatusOK && after.ID != "" && after.active() != active:
		return connector.Result{Found: found}, fmt.Errorf("scim: PATCH %s: the target still reports active=%t", path, !active)
	}
	return connector.Result{Detail: fmt.Sprintf("account %s (active=%t)", state, active), Found: found}, nil
}

// Delete removes the user. A user already gone is AlreadyDone.
func (c *Connector) Delete(ctx context.Context, acct account.Account) (connector.Result, error) {
	path, err := userPath(acct)
	if err != nil {
		return connector.Result{}, fmt.Errorf("delete %s: %w", name(acct), err)
	}
	_, err = c.do(ctx, http.MethodDelete, path, nil, nil, nil)
	switch {
	case errors.Is(err, errNotFound):
		return connector.Result{AlreadyDone: true, Detail: "account not found in target"}, nil
	case err != nil:
		return connector.Result{}, fmt.Errorf("delete %s: %w", name(acct), err)
	}
	return connector.Result{Detail: "account deleted"}, nil
}

// ReportsRemovals says that Revoke reports every membership it removes.
func (c *Connector) ReportsRemovals() {}

// Revoke removes the user from every group that lists it as a member. No
// memberships left is AlreadyDone. If a removal fails, the error names the
// groups already left; running Revoke again finishes the job.
func (c *Connector) Revoke(ctx context.Context, acct account.Account) (connector.Result, error) {
	if acct.NativeID == "" {
		return connector.Result{}, fmt.Errorf("revoke %s: account has no native id", name(acct))
	}
	groups, err := c.groupsOf(ctx, acct.NativeID)
	if err != nil {
		return connector.Result{}, fmt.Errorf("revoke %s: %w", name(acct), err)
	}
	var removed []string
	var found connector.Found
	for _, g := range groups {
		op := operation{Op: "remove", Path: fmt.Sprintf("members[value eq %s]", quote(acct.NativeID))}
		_, err := c.do(ctx, http.MethodPatch, "/Groups/"+url.PathEscape(g.ID), nil, patch(op), nil)
		var se *StatusError
		switch {
		case errors.Is(err, errNotFound):
			continue // the group is gone, and the membership with it
		case errors.As(err, &se) && se.ScimType == "noTarget":
			continue // not a member any more (RFC 7644 §3.5.2.2)
		case err != nil:
			if len(removed) > 0 {
				return connector.Result{Found: found}, fmt.Errorf("revoke %s: after removal from %s: %w", name(acct), strings.Join(removed, ", "), err)
			}
			return connector.Result{}, fmt.Errorf("revoke %s: %w", name(acct), err)
		}
		removed = append(removed, groupName(g))
		found.Removed = append(found.Removed, account.Entitlement{ID: g.ID, Name: g.DisplayName})
	}
	if len(removed) == 0 {
		return connector.Result{AlreadyDone: true, Detail: "no group memberships"}, nil
	}
	return connector.Result{Detail: fmt.Sprintf("removed from %d group(s): %s", len(removed), strings.Join(removed, ", ")), Found: found}, nil
}

// AddMembership puts the user back into a group, undoing Revoke for that
// group. A user already in it is AlreadyDone.
func (c *Connector) AddMembership(ctx context.Context, acct account.Account, groupID string) (connector.Result, error) {
	if acct.NativeID == "" {
		return connector.Result{}, fmt.Errorf("add %s to group %s: account has no native id", name(acct), groupID)
	}
	groups, err := c.groupsOf(ctx, acct.NativeID)
	if err != nil {
		return connector.Result{}, fmt.Errorf("add %s to group %s: %w", name(acct), groupID, err)
	}
	for _, g := range groups {
		if g.ID == groupID {
			return connector.Result{AlreadyDone: true, Detail: "already a member of " + groupName(g)}, nil
		}
	}
	op := operation{Op: "add", Path: "members", Value: []map[string]string{{"value": acct.NativeID}}}
	if _, err := c.do(ctx, http.MethodPatch, "/Groups/"+url.PathEscape(groupID), nil, patch(op), nil); err != nil {
		if errors.Is(err, errNotFound) {
			err = errors.New("group no longer exists in target")
		}
		return connector.Result{}, fmt.Errorf("add %s to group %s: %w", name(acct), groupID, err)
	}
	return connector.Result{Detail: "added to group " + groupID}, nil
}

// groupsOf finds the groups that list userID as a member: by a filter when
// the server takes it, else by reading every group.
func (c *Connector) groupsOf(ctx context.Context, userID string) ([]group, error) {
	var out []group
	collect := func(g *group) error {
		// Trust the filter when the server leaves members out of the answer.
		if len(g.Members) == 0 || g.has(userID) {
			out = append(out, *g)
		}
		return nil
	}
	filter := url.Values{"filter": {"members.value eq " + quote(userID)}}
	err := list[group](ctx, c, "/Groups", filter, collect)
	var se *StatusError
	if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusNotImplemented) {
		out = nil
		err = list[group](ctx, c, "/Groups", nil, func(g *group) error {
			if g.has(userID) {
				out = append(out, *g)
			}
			return nil
		})
	}
	if err != nil {
		if groupsUnsupported(err) {
			return nil, fmt.Errorf("the target has no Groups endpoint: %w", connector.ErrUnsupported)
		}
		return nil, fmt.Errorf("find groups: %w", err)
	}
	return out, nil
}

func userPath(acct account.Account) (string, error) {
	if acct.NativeID == "" {
		return "", errors.New("account has no native id")
	}
	return "/Users/" + url.PathEscape(acct.NativeID), nil
}

// quote makes a SCIM filter string literal (RFC 7644 §3.4.2.2: JSON rules).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func name(acct account.Account) string {
	if acct.UserName != "" {
		return acct.UserName
	}
	return acct.NativeID
}

func groupName(g group) string {
	if g.DisplayName != "" {
		return g.DisplayName
	}
	return g.ID
}
