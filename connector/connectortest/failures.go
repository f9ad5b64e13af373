package connectortest

import (
	"strings"
	"testing"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

// wrongCredentials calls every capability with wrong credentials: each must
// fail at once (no retry would help), say what to check, hold no secret,
// and change nothing in the target.
func (s *suite) wrongCredentials(t *testing.T) {
	t.Parallel()
	if s.h.BadCredentials == nil {
		t.Skip("the harness gives no BadCredentials: the connector reaches no target and holds no credentials")
	}
	good := s.h.Open(t, []string{"alice"}, map[string][]string{"staff": {"alice"}})
	acct := accountOf(t, good, "alice")
	bad, secrets := s.h.BadCredentials(t, good)
	closeLater(t, bad)

	groupID := "group-id"
	if len(acct.Entitlements) > 0 {
		groupID = acct.Entitlements[0].ID
	}
	cs := calls(bad, acct, groupID)
	if len(cs) == 0 {
		t.Skipf("the connector (%T) implements no capability: nothing can fail", bad)
	}
	for _, c := range cs {
		err := c.run(ctx(t))
		t.Logf("%s with wrong credentials: %v", c.name, err)
		switch {
		case err == nil:
			t.Errorf("%s with wrong credentials succeeded", c.name)
			continue
		case connector.IsRetryable(err):
			t.Errorf("%s with wrong credentials: %v is retryable; retrying cannot fix credentials", c.name, err)
		case s.h.CredentialsHint != "" && !strings.Contains(err.Error(), s.h.CredentialsHint):
			t.Errorf("%s with wrong credentials: %q does not say %q", c.name, err, s.h.CredentialsHint)
		}
		for _, secret := range secrets {
			if secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("%s with wrong credentials: the error holds a secret: %q", c.name, err)
			}
		}
	}
	wantState(t, good, "alice", State{Exists: true, Active: true, Groups: []string{"staff"}}, "after calls with wrong credentials")
}

// targetDown calls every capability on a target that cannot be reached:
// each must fail with a retryable error.
func (s *suite) targetDown(t *testing.T) {
	t.Parallel()
	if s.h.Down == nil {
		t.Skip("the harness gives no Down: the connector reaches no target")
	}
	good := s.h.Open(t, []string{"alice"}, map[string][]string{"staff": {"alice"}})
	acct := accountOf(t, good, "alice")
	down := s.h.Down(t)
	closeLater(t, down)
	s.allRetryable(t, down, acct, "with the target down")
}

// targetStops stops a target the connector has been talking to: pooled
// connections break, and the errors must still be retryable.
func (s *suite) targetStops(t *testing.T) {
	t.Parallel()
	tg := s.h.Open(t, []string{"alice", "bob"}, map[string][]string{"staff": {"alice", "bob"}})
	if tg.Stop == nil {
		t.Skip("the harness gives no Target.Stop: TargetDown covers a target that was never up")
	}
	acct := accountOf(t, tg, "alice")
	// Talk to the target first, so that the connector holds a connection.
	for _, c := range calls(tg.Connector, accountOf(t, tg, "bob"), "") {
		if c.name == "ListAccounts" || c.name == "Enable" {
			if err := c.run(ctx(t)); err != nil {
				t.Fatalf("%s before the stop: %v", c.name, err)
			}
		}
	}
	tg.Stop()
	s.allRetryable(t, tg.Connector, acct, "after the target stopped")
}

func (s *suite) allRetryable(t *testing.T, c connector.Connector, acct account.Account, when string) {
	t.Helper()
	groupID := "group-id"
	if len(acct.Entitlements) > 0 {
		groupID = acct.Entitlements[0].ID
	}
	cs := calls(c, acct, groupID)
	if len(cs) == 0 {
		t.Skipf("the connector (%T) implements no capability: nothing can fail", c)
	}
	for _, call := range cs {
		err := call.run(ctx(t))
		t.Logf("%s %s: %v", call.name, when, err)
		switch {
		case err == nil:
			t.Errorf("%s %s succeeded", call.name, when)
		case !connector.IsRetryable(err):
			t.Errorf("%s %s: %v is not retryable; the target may come back", call.name, when, err)
		}
	}
}
