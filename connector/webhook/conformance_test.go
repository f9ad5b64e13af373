package webhook_test

import (
	"net"
	"sync"
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/connectortest"
	"github.com/deprov/deprov/connector/webhook"
)

// TestConformance runs the connector suite against a receiver that verifies
// signatures and keeps state. A webhook cannot list accounts: the suite
// skips aggregation, and takes accounts from Target.Account as the engine
// would hold them.
func TestConformance(t *testing.T) {
	const secret = "conformance-secret"
	var receivers sync.Map // connector → *receiver
	connectortest.Run(t, connectortest.Harness{
		Open: func(t *testing.T, users []string, groups map[string][]string) connectortest.Target {
			rc := newReceiver(t, secret, users, groups)
			c := open(t, connector.Settings{"url": rc.URL, "secret": secret, "timeoutSeconds": 5})
			receivers.Store(connector.Connector(c), rc)
			return connectortest.Target{
				Connector: c,
				State: func(t *testing.T, userName string) connectortest.State {
					exists, active, groups := rc.state(userName)
					return connectortest.State{Exists: exists, Active: active, Groups: groups}
				},
				Account: func(t *testing.T, userName string) account.Account {
					a := account.Account{ApplicationID: "app", NativeID: "id-" + userName, UserName: userName, Email: userName + "@example.com"}
					for g, members := range groups {
						for _, m := range members {
							if m == userName {
								a.Entitlements = append(a.Entitlements, account.Entitlement{ID: "group-" + g, Name: g})
							}
						}
					}
					return a
				},
				Stop: rc.Close,
			}
		},
		BadCredentials: func(t *testing.T, good connectortest.Target) (connector.Connector, []string) {
			v, _ := receivers.Load(good.Connector)
			const wrong = "not-the-secret"
			return open(t, connector.Settings{"url": v.(*receiver).URL, "secret": wrong}), []string{wrong, secret}
		},
		CredentialsHint: "check the application's secret",
		Down: func(t *testing.T) connector.Connector {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "http://" + l.Addr().String() + "/hook"
			l.Close()
			return open(t, connector.Settings{"url": url, "secret": secret, "timeoutSeconds": 5})
		},
	})
}

func open(t *testing.T, s connector.Settings) *webhook.Connector {
	t.Helper()
	f, ok := connector.Lookup("webhook")
	if !ok {
		t.Fatal(`connector type "webhook" is not registered`)
	}
	if errs := f.Validate(s); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	c, err := f.Open(s)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.(connector.Closer).Close() })
	return c.(*webhook.Connector)
}
