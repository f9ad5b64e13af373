package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/deprov/deprov/config"
	_ "github.com/deprov/deprov/connector/scim"
	"github.com/deprov/deprov/store/sqlite"
)

// TestConnectorsOutliveUnrelatedChanges: a configuration change that does
// not touch an application keeps its open connector (and the attempts
// using it) and its rate limiter; a new rateLimit changes the same
// limiter's pace; new connector settings open a new connector.
func TestConnectorsOutliveUnrelatedChanges(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "deprov.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	apply := func(y string) {
		t.Helper()
		cfg, err := config.Parse(strings.NewReader(y))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(ctx, cfg, "test", false); err != nil {
			t.Fatal(err)
		}
	}
	const app = `
applications:
  - id: app
    connector: {type: scim, url: "https://scim.example.com/v2", token: "t"}
    rateLimit: %s
rules:
  - id: leavers
    trigger: {statuses: [%s]}
`
	conf := func(rl, status string) string {
		return strings.Replace(strings.Replace(app, "%s", rl, 1), "%s", status, 1)
	}
	apply(conf("5", "TERMINATED"))
	c1, _, err := e.connector(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	l1 := e.limiter("app")

	apply(conf("5", "LEFT")) // a rule change only
	c2, _, err := e.connector(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if c2 != c1 || e.limiter("app") != l1 {
		t.Fatal("a rule change reopened the application's connector or replaced its limiter")
	}

	apply(conf("2", "LEFT")) // a new pace, same connector settings
	c3, _, err := e.connector(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if c3 != c1 || e.limiter("app") != l1 || l1.Limit() != rate.Limit(2) {
		t.Fatalf("after a rateLimit change: same connector %v, same limiter %v, limit %v; want true, true, 2", c3 == c1, e.limiter("app") == l1, l1.Limit())
	}

	apply(strings.Replace(conf("2", "LEFT"), `token: "t"`, `token: "t2"`, 1))
	c4, _, err := e.connector(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if c4 == c1 {
		t.Fatal("new connector settings kept the old connector")
	}
}
