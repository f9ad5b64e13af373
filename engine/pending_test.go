package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/store"
)

// flakyStore fails the next CreateRun calls it is told to, as a database
// that is briefly unavailable would.
type flakyStore struct {
	store.Store
	failRuns atomic.Int32
}

func (f *flakyStore) CreateRun(ctx context.Context, p store.CreateRunParams) error {
	if f.failRuns.Add(-1) >= 0 {
		return errors.New("database is locked (injected)")
	}
	return f.Store.CreateRun(ctx, p)
}

// TestTerminationStoredButNotActedOnIsNotLost: a sync stores a termination
// but fails before its immediate rule has run. The identity stays marked
// pending, and a serving node, once the sync has had its time, runs the
// immediate rule for it: the account is disabled in the target.
func TestTerminationStoredButNotActedOnIsNotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	target := scimtarget.Start(t)
	bob := target.CreateUser(t, "bob", true)
	clk := &clock{T: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	st := testdb.SQLite(t, t.TempDir(), clk.Now)
	flaky := &flakyStore{Store: st}
	e, err := engine.New(engine.Options{Store: flaky, Now: clk.Now, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	applyYAML(t, e, `
applications:
  - id: app
    connector: {type: scim, url: "`+target.URL+`", token: "`+target.Token+`"}
sources:
  - {id: hr, type: csv, path: /nonexistent.csv}
rules:
  - {id: terminations, trigger: {statuses: [TERMINATED]}, immediate: true}
`)
	bobID := identity.Identity{SourceID: "hr", ExternalID: "2", UserName: "bob", Status: "ACTIVE"}
	if _, err := e.SyncIdentities(ctx, "hr", []identity.Identity{bobID}, "test", "source.synced", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Aggregate(ctx, "app", "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })

	flaky.failRuns.Store(1)
	bobID.Status = "TERMINATED"
	if _, err := e.SyncIdentities(ctx, "hr", []identity.Identity{bobID}, "scim:idp", "source.pushed", "bob"); err == nil {
		t.Fatal("the sync reported success although its immediate run failed")
	}
	pending, err := st.PendingIdentities(ctx, clk.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Key != "hr/2" {
		t.Fatalf("pending %+v, want bob's identity", pending)
	}
	// The IdP's retry of the push finds nothing changed: without the mark
	// the termination would be lost here.
	if res, err := e.SyncIdentities(ctx, "hr", []identity.Identity{bobID}, "scim:idp", "source.pushed", "bob"); err != nil || len(res.Changed) != 0 {
		t.Fatalf("repeated push: %+v, %v, want nothing changed", res, err)
	}
	clk.Add(time.Minute) // past the time a sync is given to finish its own work
	deadline := time.Now().Add(30 * time.Second)
	for active(t, target, bob) {
		if time.Now().After(deadline) {
			t.Fatal("bob still active: the pending termination was never acted on")
		}
		time.Sleep(50 * time.Millisecond) // polling the target for the outcome
	}
	for {
		pending, err = st.PendingIdentities(ctx, clk.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending after the evaluation: %+v", pending)
		}
		time.Sleep(50 * time.Millisecond) // polling for the mark to be cleared
	}
}

func active(t *testing.T, target *scimtarget.Target, id string) bool {
	t.Helper()
	u, found := target.User(t, id)
	if !found {
		t.Fatalf("user %s gone from the target", id)
	}
	a, ok := u["active"].(bool)
	return !ok || a
}
