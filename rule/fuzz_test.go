package rule

import (
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/identity"
)

// FuzzCompile: untrusted rule expressions compile or fail with an error,
// and what compiles evaluates within the cost limit, never panicking.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`user.status == "TERMINATED"`,
		`user.attributes.contract == "fixed-term" && user.endDate < now`,
		`accounts.exists(a, a.application == "github" && "admins" in a.groups)`,
		`has(user.endDate) && user.endDate + duration("72h") < now`,
		`[1,2,3].all(x, [1,2,3].all(y, x + y > 0))`,
		`user.department != "board" || user.manager.startsWith("E")`,
		`size(accounts) > 2`, `"a" + 1`, `user.(`, ``, `true ? 1 : "x"`,
	} {
		f.Add(s)
	}
	id := identity.Identity{SourceID: "hr", ExternalID: "1", UserName: "u", Status: "TERMINATED", Department: "eng",
		Attributes: map[string]string{"contract": "fixed-term"}}
	id.EndDate, _ = identity.ParseEndDate("2026-11-01")
	accts := []account.Account{{ApplicationID: "github", NativeID: "1", Entitlements: []account.Entitlement{{Name: "admins"}}}}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		if err := CheckExpression(expr); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		c, err := Compile(Spec{HookCEL: expr, Scope: expr})
		if err != nil {
			t.Fatalf("CheckExpression accepted %q but Compile failed: %v", expr, err)
		}
		c.Decide(id, accts, now)
	})
}
