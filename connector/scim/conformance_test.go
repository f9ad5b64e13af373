package scim_test

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/connectortest"
	"github.com/deprov/deprov/internal/scimtarget"
)

// TestConformance runs the connector suite against SCIMMY.
func TestConformance(t *testing.T) {
	const pageSize = 3
	var targets sync.Map // connector → *scimtarget.Target, for BadCredentials
	connectortest.Run(t, connectortest.Harness{
		PageSize: pageSize,
		Open: func(t *testing.T, users []string, groups map[string][]string) connectortest.Target {
			tg := scimtarget.Start(t)
			ids := map[string]string{}
			for _, u := range users {
				ids[u] = tg.CreateUser(t, u, true)
			}
			groupIDs := map[string]string{}
			for name, members := range groups {
				var memberIDs []string
				for _, m := range members {
					memberIDs = append(memberIDs, ids[m])
				}
				groupIDs[name] = tg.CreateGroup(t, name, memberIDs...)
			}
			c := open(t, connector.Settings{"url": tg.URL, "token": tg.Token, "pageSize": pageSize, "timeoutSeconds": 5})
			targets.Store(connector.Connector(c), tg)
			return connectortest.Target{
				Connector: c,
				State: func(t *testing.T, userName string) connectortest.State {
					u, found := tg.User(t, ids[userName])
					if !found {
						return connectortest.State{}
					}
					st := connectortest.State{Exists: true, Active: u["active"] == true}
					for name, gid := range groupIDs {
						if slices.Contains(tg.GroupMembers(t, gid), ids[userName]) {
							st.Groups = append(st.Groups, name)
						}
					}
					return st
				},
				Stop: tg.Stop,
			}
		},
		BadCredentials: func(t *testing.T, good connectortest.Target) (connector.Connector, []string) {
			tg, _ := targets.Load(good.Connector)
			wrong := "wrong-" + tg.(*scimtarget.Target).Token[:8]
			c := open(t, connector.Settings{"url": tg.(*scimtarget.Target).URL, "token": wrong, "timeoutSeconds": 5})
			return c, []string{wrong, tg.(*scimtarget.Target).Token}
		},
		CredentialsHint: "check the application's token",
		Down: func(t *testing.T) connector.Connector {
			return open(t, connector.Settings{"url": closedURL(t) + "/scim/v2", "token": "token", "timeoutSeconds": 5})
		},
	})
}

// closedURL is an http URL on a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return fmt.Sprintf("http://%s", addr)
}
