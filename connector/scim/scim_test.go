package scim_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/connector/scim"
	"github.com/deprov/deprov/internal/scimtarget"
)

// These tests run the connector against SCIMMY, a real SCIM 2.0 server.

type bundle struct {
	tg *scimtarget.Target
	c  *scim.Connector
}

// setup starts a target and opens a connector on it through the registry,
// as the engine would.
func setup(t *testing.T, extra connector.Settings) bundle {
	t.Helper()
	t.Parallel()
	tg := scimtarget.Start(t)
	s := connector.Settings{"url": tg.URL, "token": tg.Token, "timeoutSeconds": 5}
	for k, v := range extra {
		s[k] = v
	}
	return bundle{tg: tg, c: open(t, s)}
}

func open(t *testing.T, s connector.Settings) *scim.Connector {
	t.Helper()
	f, ok := connector.Lookup("scim")
	if !ok {
		t.Fatal(`connector type "scim" is not registered`)
	}
	if errs := f.Validate(s); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	c, err := f.Open(s)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.(connector.Closer).Close() })
	return c.(*scim.Connector)
}

func (b bundle) account(t *testing.T, id string) account.Account {
	t.Helper()
	u, found := b.tg.User(t, id)
	if !found {
		t.Fatalf("user %s not in target", id)
	}
	return account.Account{NativeID: id, UserName: u["userName"].(string)}
}

func listAll(t *testing.T, c *scim.Connector) map[string]account.Account {
	t.Helper()
	got := map[string]account.Account{}
	err := c.ListAccounts(context.Background(), func(a account.Account) error {
		if _, dup := got[a.UserName]; dup {
			t.Errorf("account %s listed twice", a.UserName)
		}
		got[a.UserName] = a
		return nil
	})
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	return got
}

func TestListAccountsPages(t *testing.T) {
	b := setup(t, connector.Settings{"pageSize": 2})
	ids := map[string]string{}
	for _, name := range []string{"ann", "ben", "cat", "dan", "eve"} {
		ids[name] = b.tg.CreateUser(t, name, name != "dan")
	}
	eng := b.tg.CreateGroup(t, "eng", ids["ann"], ids["ben"])
	ops := b.tg.CreateGroup(t, "ops", ids["ben"], ids["eve"])
	b.tg.CreateGroup(t, "nobody") // SCIMMY sends it without "members"
	start := len(b.tg.Requests(t))

	got := listAll(t, b.c)

	if len(got) != 5 {
		t.Fatalf("listed %d accounts, want 5: %v", len(got), got)
	}
	ben := got["ben"]
	if ben.NativeID != ids["ben"] || ben.Email != "ben@example.com" || ben.State != account.Active {
		t.Errorf("ben = %+v", ben)
	}
	if want := []account.Entitlement{{ID: eng, Name: "eng"}, {ID: ops, Name: "ops"}}; !slices.Equal(ben.Entitlements, want) {
		t.Errorf("ben's entitlements = %v, want %v", ben.Entitlements, want)
	}
	if ben.Attributes["externalId"] != "ext-ben" || ben.Attributes["displayName"] != "User ben" {
		t.Errorf("ben's attributes = %v", ben.Attributes)
	}
	if got["dan"].State != account.Disabled || len(got["dan"].Entitlements) != 0 {
		t.Errorf("dan = %+v, want disabled without entitlements", got["dan"])
	}

	// Five users at two a page, three groups at two a page: 3 + 2 GETs.
	var users, groups []string
	for _, r := range b.tg.Requests(t)[start:] {
		switch r.Path {
		case "/scim/v2/Users":
			users = append(users, r.Query)
		case "/scim/v2/Groups":
			groups = append(groups, r.Query)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
		}
	}
	if want := []string{"count=2&startIndex=1", "count=2&startIndex=3", "count=2&startIndex=5"}; !slices.Equal(users, want) {
		t.Errorf("user pages = %v, want %v", users, want)
	}
	if len(groups) != 2 {
		t.Errorf("group pages = %v, want 2", groups)
	}
}

func TestListAccountsStopsAtCallbackError(t *testing.T) {
	b := setup(t, connector.Settings{"pageSize": 1})
	b.tg.CreateUser(t, "ann", true)
	b.tg.CreateUser(t, "ben", true)
	stop := errors.New("stop")
	n := 0
	err := b.c.ListAccounts(context.Background(), func(account.Account) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ListAccounts = %v after %d calls, want stop after 1", err, n)
	}
}

func TestDisableTwice(t *testing.T) {
	b := setup(t, nil)
	id := b.tg.CreateUser(t, "ann", true)
	other := b.tg.CreateUser(t, "ben", true)
	acct := b.account(t, id)

	res, err := b.c.Disable(context.Background(), acct)
	if err != nil || res.AlreadyDone {
		t.Fatalf("first Disable = %+v, %v; want a change", res, err)
	}
	if u, _ := b.tg.User(t, id); u["active"] != false {
		t.Errorf("target has active=%v after Disable", u["active"])
	}
	if u, _ := b.tg.User(t, other); u["active"] != true {
		t.Errorf("Disable touched another user: active=%v", u["active"])
	}

	res, err = b.c.Disable(context.Background(), acct)
	if err != nil || !res.AlreadyDone {
		t.Fatalf("second Disable = %+v, %v; want AlreadyDone", res, err)
	}
	if a := listAll(t, b.c)["ann"]; a.State != account.Disabled {
		t.Errorf("aggregated state = %s, want disabled", a.State)
	}
}

func TestDisableMissingAccount(t *testing.T) {
	b := setup(t, nil)
	res, err := b.c.Disable(context.Background(), account.Account{NativeID: "no-such-id", UserName: "ghost"})
	if err != nil || !res.AlreadyDone || res.Detail != "account no longer exists" {
		t.Errorf("Disable(missing) = %+v, %v; want AlreadyDone", res, err)
	}
}

func TestEnable(t *testing.T) {
	b := setup(t, nil)
	id := b.tg.CreateUser(t, "ann", false)
	acct := b.account(t, id)

	res, err := b.c.Enable(context.Background(), acct)
	if err != nil || res.AlreadyDone {
		t.Fatalf("Enable = %+v, %v; want a change", res, err)
	}
	if u, _ := b.tg.User(t, id); u["active"] != true {
		t.Errorf("target has active=%v after Enable", u["active"])
	}
	if res, err := b.c.Enable(context.Background(), acct); err != nil || !res.AlreadyDone {
		t.Errorf("second Enable = %+v, %v; want AlreadyDone", res, err)
	}

	if _, err := b.c.Delete(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Enable(context.Background(), acct); err == nil || connector.IsRetryable(err) {
		t.Errorf("Enable(deleted) = %v, want a final error", err)
	}
}

func TestDeleteTwice(t *testing.T) {
	b := setup(t, nil)
	id := b.tg.CreateUser(t, "ann", true)
	keep := b.tg.CreateUser(t, "ben", true)
	acct := b.account(t, id)

	res, err := b.c.Delete(context.Background(), acct)
	if err != nil || res.AlreadyDone {
		t.Fatalf("first Delete = %+v, %v; want a change", res, err)
	}
	if _, found := b.tg.User(t, id); found {
		t.Error("user still in target after Delete")
	}
	if _, found := b.tg.User(t, keep); !found {
		t.Error("Delete removed another user")
	}
	res, err = b.c.Delete(context.Background(), acct)
	if err != nil || !res.AlreadyDone || res.Detail != "account not found in target" {
		t.Fatalf("second Delete = %+v, %v; want AlreadyDone", res, err)
	}
}

func TestRevokeTwice(t *testing.T) {
	b := setup(t, connector.Settings{"pageSize": 1})
	ann := b.tg.CreateUser(t, "ann", true)
	ben := b.tg.CreateUser(t, "ben", true)
	eng := b.tg.CreateGroup(t, "eng", ann, ben)
	ops := b.tg.CreateGroup(t, "ops", ann)
	b.tg.CreateGroup(t, "nobody")
	other := b.tg.CreateGroup(t, "other", ben)
	acct := b.account(t, ann)

	res, err := b.c.Revoke(context.Background(), acct)
	if err != nil || res.AlreadyDone {
		t.Fatalf("first Revoke = %+v, %v; want a change", res, err)
	}
	if !strings.Contains(res.Detail, "eng") || !strings.Contains(res.Detail, "ops") {
		t.Errorf("Detail = %q, want both groups named", res.Detail)
	}
	for g, want := range map[string][]string{eng: {ben}, ops: {}, other: {ben}} {
		if got := b.tg.GroupMembers(t, g); !slices.Equal(got, want) {
			t.Errorf("group %s members = %v, want %v", g, got, want)
		}
	}
	if _, found := b.tg.User(t, ann); !found {
		t.Error("Revoke removed the account itself")
	}
	filtered := slices.ContainsFunc(b.tg.Requests(t), func(r scimtarget.Request) bool {
		return r.Path == "/scim/v2/Groups" && strings.Contains(r.Query, "filter=members.value") && r.Status == http.StatusOK
	})
	if !filtered {
		t.Error("Revoke did not find the groups with a members.value filter")
	}

	res, err = b.c.Revoke(context.Background(), acct)
	if err != nil || !res.AlreadyDone {
		t.Fatalf("second Revoke = %+v, %v; want AlreadyDone", res, err)
	}
	if a := listAll(t, b.c)["ann"]; len(a.Entitlements) != 0 {
		t.Errorf("aggregated entitlements after Revoke = %v", a.Entitlements)
	}
}

func TestAddMembershipRestores(t *testing.T) {
	b := setup(t, nil)
	ann := b.tg.CreateUser(t, "ann", true)
	ben := b.tg.CreateUser(t, "ben", true)
	eng := b.tg.CreateGroup(t, "eng", ben)
	acct := b.account(t, ann)

	res, err := b.c.AddMembership(context.Background(), acct, eng)
	if err != nil || res.AlreadyDone {
		t.Fatalf("AddMembership = %+v, %v; want a change", res, err)
	}
	if got := b.tg.GroupMembers(t, eng); !slices.Contains(got, ann) || !slices.Contains(got, ben) {
		t.Errorf("eng members = %v, want ann and ben", got)
	}
	if res, err := b.c.AddMembership(context.Background(), acct, eng); err != nil || !res.AlreadyDone {
		t.Errorf("second AddMembership = %+v, %v; want AlreadyDone", res, err)
	}
	if _, err := b.c.AddMembership(context.Background(), acct, "no-such-group"); err == nil {
		t.Error("AddMembership to a missing group succeeded")
	}
}

func TestWrongToken(t *testing.T) {
	b := setup(t, nil)
	id := b.tg.CreateUser(t, "ann", true)
	const secret = "wrong-but-secret-token-3f9a"
	c := open(t, connector.Settings{"url": b.tg.URL, "token": secret})

	errs := map[string]error{
		"list": c.ListAccounts(context.Background(), func(account.Account) error { return nil }),
	}
	acct := account.Account{NativeID: id, UserName: "ann"}
	for act, fn := range map[string]func(context.Context, account.Account) (connector.Result, error){
		"disable": c.Disable, "delete": c.Delete, "revoke": c.Revoke, "enable": c.Enable,
	} {
		_, errs[act] = fn(context.Background(), acct)
	}
	for act, err := range errs {
		switch {
		case err == nil:
			t.Errorf("%s: no error with a wrong token", act)
		case connector.IsRetryable(err):
			t.Errorf("%s: %v is retryable", act, err)
		case !strings.Contains(err.Error(), "authentication failed (401)"):
			t.Errorf("%s: %q does not say authentication failed", act, err)
		case strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), b.tg.Token):
			t.Errorf("%s: error shows the token: %q", act, err)
		}
	}
	if u, _ := b.tg.User(t, id); u["active"] != true {
		t.Error("a request with a wrong token changed the target")
	}
}

func TestTargetAsksToWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"unavailable", http.StatusServiceUnavailable},
		{"rate limited", http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, nil)
			id := b.tg.CreateUser(t, "ann", true)
			acct := b.account(t, id)
			b.tg.FailNext(t, 1, tc.status, map[string]string{"Retry-After": "2"})

			_, err := b.c.Disable(context.Background(), acct)
			var re *connector.RetryableError
			if !errors.As(err, &re) || re.After != 2*time.Second {
				t.Fatalf("Disable = %v, want RetryableError with After 2s", err)
			}
			if !strings.HasPrefix(err.Error(), "disable ann: ") {
				t.Errorf("error %q lacks context", err)
			}
			if u, _ := b.tg.User(t, id); u["active"] != true {
				t.Fatal("target changed although it refused the request")
			}
			if res, err := b.c.Disable(context.Background(), acct); err != nil || res.AlreadyDone {
				t.Errorf("retry = %+v, %v; want a change", res, err)
			}
		})
	}
}

func TestTargetDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := open(t, connector.Settings{"url": "http://" + addr + "/scim/v2", "token": "t0ken"})

	err = c.ListAccounts(context.Background(), func(account.Account) error { return nil })
	if !connector.IsRetryable(err) {
		t.Errorf("ListAccounts on a closed port = %v, want retryable", err)
	}
	_, err = c.Disable(context.Background(), account.Account{NativeID: "x", UserName: "ann"})
	if !connector.IsRetryable(err) {
		t.Errorf("Disable on a closed port = %v, want retryable", err)
	}
}

func TestTargetStopped(t *testing.T) {
	b := setup(t, nil)
	id := b.tg.CreateUser(t, "ann", true)
	acct := b.account(t, id)
	b.tg.Stop()
	if _, err := b.c.Delete(context.Background(), acct); !connector.IsRetryable(err) {
		t.Errorf("Delete with the target stopped = %v, want retryable", err)
	}
}

func TestPerform(t *testing.T) {
	b := setup(t, nil)
	id := b.tg.CreateUser(t, "ann", true)
	acct := b.account(t, id)
	for _, act := range []account.Action{account.Revoke, account.Disable, account.Delete} {
		if _, err := connector.Perform(context.Background(), b.c, act, acct); err != nil {
			t.Errorf("Perform(%s) = %v", act, err)
		}
	}
	if _, found := b.tg.User(t, id); found {
		t.Error("user still in target")
	}
}
