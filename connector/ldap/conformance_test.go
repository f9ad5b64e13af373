package ldap_test

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/connectortest"
	"github.com/deprov/deprov/internal/ldaptarget"
)

// These tests run the connector against OpenLDAP slapd, started by each
// test from internal/ldaptarget.

func TestConformanceLock(t *testing.T) { connectortest.Run(t, harness("lock")) }
func TestConformanceMove(t *testing.T) { connectortest.Run(t, harness("move")) }

const pageSize = 2

func harness(mode string) connectortest.Harness {
	var targets sync.Map // connector → *ldaptarget.Target
	return connectortest.Harness{
		PageSize: pageSize,
		Open: func(t *testing.T, users []string, groups map[string][]string) connectortest.Target {
			tg := ldaptarget.Start(t)
			for _, u := range users {
				tg.AddUser(t, u, password(u))
			}
			for name, members := range groups {
				var dns []string
				for _, m := range members {
					dns = append(dns, ldaptarget.UserDN(m))
				}
				tg.AddGroup(t, name, dns...)
			}
			c := open(t, settings(tg, mode))
			targets.Store(connector.Connector(c), tg)
			return connectortest.Target{
				Connector: c,
				State:     func(t *testing.T, userName string) connectortest.State { return state(t, tg, userName) },
				Stop:      tg.Stop,
			}
		},
		BadCredentials: func(t *testing.T, good connectortest.Target) (connector.Connector, []string) {
			v, _ := targets.Load(good.Connector)
			tg := v.(*ldaptarget.Target)
			s := settings(tg, mode)
			s["bindPassword"] = "wrong-" + tg.AdminPassword[:6]
			return open(t, s), []string{s["bindPassword"].(string), tg.AdminPassword}
		},
		CredentialsHint: "ldap: bind failed (49 invalid credentials): check bindDN and bindPassword",
		Down: func(t *testing.T) connector.Connector {
			return open(t, connector.Settings{
				"url": closedURL(t), "bindDN": ldaptarget.AdminDN, "bindPassword": "secret",
				"baseDN": ldaptarget.PeopleDN, "groupBaseDN": ldaptarget.GroupsDN, "timeoutSeconds": 5,
				"disableMode": mode, "disabledDN": ldaptarget.DisabledDN,
			})
		},
	}
}

// state reads a user as the directory has it: found by uid anywhere, active
// when it can bind with its password and is not under the disabled OU.
func state(t *testing.T, tg *ldaptarget.Target, uid string) connectortest.State {
	t.Helper()
	dn, found := tg.FindUser(t, uid)
	if !found {
		return connectortest.State{}
	}
	return connectortest.State{
		Exists: true,
		Active: tg.CanBind(t, dn, password(uid)) && !ldaptarget.IsUnder(dn, ldaptarget.DisabledDN),
		Groups: tg.GroupsOf(t, dn),
	}
}

func password(uid string) string { return "pw-" + uid }

// settings configure a connector on tg as the administrator would.
func settings(tg *ldaptarget.Target, mode string) connector.Settings {
	s := connector.Settings{
		"url":            tg.URL,
		"bindDN":         ldaptarget.AdminDN,
		"bindPassword":   tg.AdminPassword,
		"baseDN":         ldaptarget.PeopleDN,
		"groupBaseDN":    ldaptarget.GroupsDN,
		"disableMode":    mode,
		"pageSize":       pageSize,
		"timeoutSeconds": 5,
	}
	if mode == "move" {
		s["disabledDN"] = ldaptarget.DisabledDN
	}
	return s
}

// closedURL is an ldap URL on a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return fmt.Sprintf("ldap://%s", addr)
}
