// Package manual is the connector for applications without an API: each
// revocation becomes a work item that a person carries out in the
// application and then completes (or rejects) with
// `deprov revocations complete|reject ID`, which the audit records.
package manual

import (
	"context"
	"fmt"
	"strings"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

func init() {
	connector.Register("manual", connector.Factory{Open: Open, Validate: Validate})
}

var (
	_ connector.Disabler = (*Connector)(nil)
	_ connector.Deleter  = (*Connector)(nil)
	_ connector.Revoker  = (*Connector)(nil)
	_ connector.Enabler  = (*Connector)(nil)
)

// Connector turns every action into a work item.
type Connector struct {
	assignee     string
	instructions string
}

// Open reads the settings: assignee (who does the work, optional) and
// instructions (optional text added to every work item).
func Open(s connector.Settings) (connector.Connector, error) {
	if errs := Validate(s); len(errs) > 0 {
		return nil, errs[0]
	}
	a, _ := s["assignee"].(string)
	in, _ := s["instructions"].(string)
	return &Connector{assignee: a, instructions: in}, nil
}

// Validate checks the settings.
func Validate(s connector.Settings) []error {
	var errs []error
	for k, v := range s {
		switch k {
		case "assignee", "instructions":
			if _, ok := v.(string); !ok {
				errs = append(errs, fmt.Errorf("%s: must be text", k))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: unknown setting (manual takes assignee and instructions)", k))
		}
	}
	return errs
}

func (c *Connector) item(act account.Action, acct account.Account) error {
	what := map[account.Action]string{
		account.Disable: "Disable the account",
		account.Delete:  "Delete the account",
		account.Revoke:  "Remove every group membership and role of the account",
		account.Restore: "Re-enable the account and restore its memberships",
	}[act]
	msg := fmt.Sprintf("%s %q (id %s)", what, acct.UserName, acct.NativeID)
	if len(acct.Entitlements) > 0 && (act == account.Revoke || act == account.Restore) {
		names := make([]string, len(acct.Entitlements))
		for i, e := range acct.Entitlements {
			names[i] = e.Name
			if names[i] == "" {
				names[i] = e.ID
			}
		}
		msg += ": " + strings.Join(names, ", ")
	}
	if c.instructions != "" {
		msg += ". " + c.instructions
	}
	return &connector.WorkItemError{Instructions: msg, Assignee: c.assignee}
}

// Disable makes a work item.
func (c *Connector) Disable(_ context.Context, a account.Account) (connector.Result, error) {
	return connector.Result{}, c.item(account.Disable, a)
}

// Delete makes a work item.
func (c *Connector) Delete(_ context.Context, a account.Account) (connector.Result, error) {
	return connector.Result{}, c.item(account.Delete, a)
}

// Revoke makes a work item.
func (c *Connector) Revoke(_ context.Context, a account.Account) (connector.Result, error) {
	return connector.Result{}, c.item(account.Revoke, a)
}

// Enable makes a work item (undo).
func (c *Connector) Enable(_ context.Context, a account.Account) (connector.Result, error) {
	return connector.Result{}, c.item(account.Restore, a)
}
