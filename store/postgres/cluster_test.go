package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/riverqueue/river"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/internal/pgtarget"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/postgres"
)

// nodes opens n stores (each its own pool, as n deprov processes would)
// on one new database, migrated by the first.
func nodes(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	url := pgtarget.Start(t)
	var out []*postgres.Store
	for range n {
		out = append(out, open(t, url, nil))
	}
	if err := out[0].Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateConcurrentlyAndTwice: processes that migrate one database at
// once take turns, apply each file once, and migrating an up-to-date
// database changes nothing.
func TestMigrateConcurrentlyAndTwice(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtarget.Start(t)
	const procs = 3
	stores := make([]*postgres.Store, procs)
	for i := range stores {
		stores[i] = open(t, url, nil)
	}
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	conn := pgtarget.Conn(t, url)
	count := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if before == 0 {
		t.Fatal("no migration recorded")
	}
	if err := stores[1].Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if after := count(); after != before {
		t.Fatalf("migrations %d, then %d", before, after)
	}
	var v int64
	if err := conn.QueryRow(ctx, `SELECT version FROM config_version`).Scan(&v); err != nil || v != 0 {
		t.Fatalf("config version after migrating: %d, %v", v, err)
	}
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM config_version`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("config_version rows: %d, %v", rows, err)
	}
	var river int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM river_migration`).Scan(&river); err != nil || river == 0 {
		t.Fatalf("river migrations: %d, %v", river, err)
	}
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

func TestNewJobClient(t *testing.T) {
	t.Parallel()
	s := migrated(t, nil)
	ctx := t.Context()
	c, err := s.NewJobClient(&river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Insert(ctx, noopArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kind, state string
	if err := s.Pool().QueryRow(ctx, `SELECT kind, state FROM river_job WHERE id = $1`, res.Job.ID).Scan(&kind, &state); err != nil {
		t.Fatal(err)
	}
	if kind != "noop" || state != "available" {
		t.Fatalf("river_job row: kind %q, state %q", kind, state)
	}
}

// verify checks the whole chain and returns its length.
func verify(t *testing.T, s store.Store) int {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var v audit.Verifier
	for _, e := range evs {
		if err := v.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	return len(evs)
}

// TestAuditChainAcrossNodes: writers on several pools (several nodes)
// append at once, through AppendAudit and through methods that append
// with other changes; the chain stays one line, with nothing lost.
func TestAuditChainAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := nodes(t, 3)
	const writers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, len(ns)*writers*each)
	for n, s := range ns {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					ev := audit.Event{Actor: fmt.Sprintf("node%d", n), Action: "test.append", Message: fmt.Sprint(w, i)}
					var err error
					switch i % 3 {
					case 0:
						err = s.AppendAudit(ctx, ev, ev)
					case 1:
						src := fmt.Sprintf("n%dw%d", n, w)
						_, err = s.SyncIdentities(ctx, src, []identity.Identity{{ExternalID: fmt.Sprint(i), UserName: "u"}}, ev)
					default:
						run := &store.Run{RuleID: "r", State: store.RunCompleted}
						err = s.CreateRun(ctx, store.CreateRunParams{Run: run, Events: []audit.Event{ev, ev}})
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Per writer: 5 AppendAudit of 2, 5 syncs of 1, 5 runs of 2.
	if got, want := verify(t, ns[0]), len(ns)*writers*(5*2+5+5*2); got != want {
		t.Fatalf("chain has %d events, want %d", got, want)
	}
}

// TestConcurrentRunsOverlap: nodes scheduling the same revocations in
// opposite orders deadlock in PostgreSQL; the store runs the loser again,
// which then finds the revocations active: every call ends in success or
// ErrConflict, never in a driver error, and no revocation is doubled.
func TestConcurrentRunsOverlap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := nodes(t, 2)
	const rounds, perRun = 10, 200
	revs := func(round int, reverse bool) []store.Revocation {
		var out []store.Revocation
		for i := range perRun {
			out = append(out, store.Revocation{RuleID: "r", IdentityID: fmt.Sprintf("hr/%d", i), ApplicationID: "crm",
				AccountID: fmt.Sprintf("c-%d-%d", round, i), Action: account.Disable})
		}
		if reverse {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
		return out
	}
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, len(ns))
		for n, s := range ns {
			wg.Go(func() {
				errs[n] = s.CreateRun(ctx, store.CreateRunParams{Run: &store.Run{RuleID: "r", State: store.RunCompleted},
					Revocations: revs(round, n%2 == 1), Events: []audit.Event{{Action: "run.completed"}}})
			})
		}
		wg.Wait()
		won := 0
		for n, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d, node %d: %v", round, n, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d runs stored, want 1", round, won)
		}
	}
	all, err := ns[0].ListRevocations(ctx, store.RevocationQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != rounds*perRun {
		t.Fatalf("%d revocations, want %d", len(all), rounds*perRun)
	}
	verify(t, ns[1])
}

// TestConcurrentSyncOfOneSource: two nodes syncing one source at once
// take turns: one creates, the other finds everything unchanged.
func TestConcurrentSyncOfOneSource(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := nodes(t, 2)
	var ids []identity.Identity
	for i := range 2500 {
		ids = append(ids, identity.Identity{ExternalID: fmt.Sprintf("u%05d", i), UserName: fmt.Sprint("user", i)})
	}
	results := make([]store.SyncResult, len(ns))
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for n, s := range ns {
		wg.Go(func() {
			results[n], errs[n] = s.SyncIdentities(ctx, "hr", ids, audit.Event{Action: "source.synced"})
		})
	}
	wg.Wait()
	for n, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", n, err)
		}
	}
	created := results[0].Created + results[1].Created
	unchanged := results[0].Unchanged + results[1].Unchanged
	if created != len(ids) || unchanged != len(ids) {
		t.Fatalf("results %+v and %+v: want one sync to create all, the other to change nothing", results[0], results[1])
	}
	n, err := ns[0].CountIdentities(ctx, store.IdentityQuery{})
	if err != nil || n != len(ids) {
		t.Fatalf("count %d, %v", n, err)
	}
}

// TestAuditTamperingShows: an audit row changed directly in PostgreSQL no
// longer verifies, and verification names that event; the events before it
// still verify.
func TestAuditTamperingShows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := migrated(t, nil)
	for i := range 5 {
		if err := s.AppendAudit(ctx, audit.Event{Actor: "cli:alice", Action: "test.append", Message: fmt.Sprint("event ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := verify(t, s); n != 5 {
		t.Fatalf("%d events verify, want 5", n)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE audit SET message = 'nothing happened here' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var v audit.Verifier
	var broken *audit.BrokenError
	for _, e := range evs {
		if err := v.Add(e); err != nil {
			if !errors.As(err, &broken) {
				t.Fatalf("verify: %v, want a BrokenError", err)
			}
			break
		}
	}
	if broken == nil || broken.Seq != 3 || v.Count != 2 {
		t.Fatalf("after tampering: broken %v after %d verified events, want event 3 after 2", broken, v.Count)
	}
}
