package connectortest_test

import (
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/connectortest"
	_ "github.com/deprov/deprov/connector/manual"
)

// TestManual runs the suite against the manual connector, which reaches no
// target: every action becomes a work item, the target is whatever a
// person leaves it as (here: untouched), and there are no credentials to
// get wrong. It shows how the suite treats a connector with few
// capabilities; the file may as well live in connector/manual.
func TestManual(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Open: func(t *testing.T, users []string, groups map[string][]string) connectortest.Target {
			f, ok := connector.Lookup("manual")
			if !ok {
				t.Fatal(`connector type "manual" is not registered`)
			}
			c, err := f.Open(connector.Settings{"assignee": "it-ops@example.com", "instructions": "Use the admin console."})
			if err != nil {
				t.Fatal(err)
			}
			memberOf := map[string][]string{}
			for g, members := range groups {
				for _, m := range members {
					memberOf[m] = append(memberOf[m], g)
				}
			}
			return connectortest.Target{
				Connector: c,
				State: func(t *testing.T, userName string) connectortest.State {
					return connectortest.State{Exists: true, Active: true, Groups: memberOf[userName]}
				},
				Account: func(t *testing.T, userName string) account.Account {
					a := account.Account{ApplicationID: "payroll", NativeID: "emp-" + userName, UserName: userName}
					for _, g := range memberOf[userName] {
						a.Entitlements = append(a.Entitlements, account.Entitlement{ID: g, Name: g})
					}
					return a
				},
			}
		},
	})
}
