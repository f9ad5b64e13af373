package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/sqlite"
	"github.com/deprov/deprov/store/storetest"
)

// clock is a fake clock the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// setup opens a migrated store in a temp dir; it is closed with t.
func setup(t testing.TB, now func() time.Time) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deprov.db")
	s, err := sqlite.Open(path, sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// fromTemplate is setup without the cost of migrating each store: it
// copies a database migrated once. (Migrating River's tables is most of
// the time of a small test under -race.)
func fromTemplate(t testing.TB, now func() time.Time) *sqlite.Store {
	t.Helper()
	templateOnce.Do(func() {
		if templateDir, templateErr = os.MkdirTemp("", "deprov-sqlite-template"); templateErr != nil {
			return
		}
		s, err := sqlite.Open(filepath.Join(templateDir, "deprov.db"), sqlite.Options{})
		if err != nil {
			templateErr = err
			return
		}
		if templateErr = s.Migrate(context.Background()); templateErr != nil {
			s.Close()
			return
		}
		templateErr = s.Close()
	})
	if templateErr != nil {
		t.Fatalf("template database: %v", templateErr)
	}
	b, err := os.ReadFile(filepath.Join(templateDir, "deprov.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "deprov.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(path, sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	// A fixed clock in a zone other than UTC, with nanoseconds: the store
	// must keep its own times in UTC at microseconds.
	fixed := time.Date(2026, 11, 26, 14, 0, 0, 987654321, time.FixedZone("CET", 3600))
	storetest.Run(t, func(t *testing.T) store.Store {
		return fromTemplate(t, func() time.Time { return fixed })
	})
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, nil)
	ctx := t.Context()
	count := func() (n int) {
		t.Helper()
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if before == 0 {
		t.Fatal("no migration recorded")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if after := count(); after != before {
		t.Fatalf("migrations %d, then %d", before, after)
	}
	var v int64
	if err := s.DB().QueryRowContext(ctx, `SELECT version FROM config_version`).Scan(&v); err != nil || v != 0 {
		t.Fatalf("config version after second migrate: %d, %v", v, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	s, path := setup(t, nil)
	ctx := t.Context()
	if _, err := s.SyncIdentities(ctx, "hr", []identity.Identity{{ExternalID: "a", UserName: "a"}},
		audit.Event{Action: "source.synced"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := s2.Identity(ctx, "hr/a")
	if err != nil {
		t.Fatal(err)
	}
	if id.UserName != "a" || id.SourceID != "hr" {
		t.Fatalf("identity after reopen: %#v", id)
	}
	evs, err := s2.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit after reopen: %d events, %v", len(evs), err)
	}
}

// TestClock checks the timestamps the store sets itself against its clock.
func TestClock(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 1500, time.FixedZone("X", -3*3600))}
	s, _ := setup(t, c.Now)
	ctx := t.Context()
	kept := func(tm time.Time) time.Time { return tm.UTC().Truncate(time.Microsecond) }

	a := identity.Identity{SourceID: "hr", ExternalID: "a", UserName: "a", Status: "Active"}
	b := identity.Identity{SourceID: "hr", ExternalID: "b", UserName: "b", Status: "Active"}
	if _, err := s.SyncIdentities(ctx, "hr", []identity.Identity{a, b}, audit.Event{Action: "source.synced"}); err != nil {
		t.Fatal(err)
	}
	created := kept(c.t)
	c.t = c.t.Add(time.Hour)
	a.Status = "Terminated"
	if _, err := s.SyncIdentities(ctx, "hr", []identity.Identity{a, b}, audit.Event{Action: "source.synced"}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]time.Time{"hr/a": kept(c.t), "hr/b": created} {
		got, err := s.Identity(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedAt.Equal(want) || got.UpdatedAt.Location() != time.UTC {
			t.Fatalf("%s UpdatedAt = %s, want %s", key, got.UpdatedAt, want)
		}
	}
	evs, err := s.ListAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := evs[0].Time; !got.Equal(created) {
		t.Fatalf("event time %s, want the clock's %s", got, created)
	}
	if got := evs[1].Time; !got.Equal(kept(c.t)) {
		t.Fatalf("event time %s, want the clock's %s", got, kept(c.t))
	}
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

func TestNewJobClient(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, nil)
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
	if err := s.DB().QueryRowContext(ctx, `SELECT kind, state FROM river_job WHERE id = ?`, res.Job.ID).Scan(&kind, &state); err != nil {
		t.Fatal(err)
	}
	if kind != "noop" || state != "available" {
		t.Fatalf("river_job row: kind %q, state %q", kind, state)
	}
}

func TestOpenMemory(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(":memory:", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(t.Context(), audit.Event{Action: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestSyncRejectsForeignIdentities(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, nil)
	ctx := t.Context()
	for name, id := range map[string]identity.Identity{
		"other source":   {SourceID: "idp", ExternalID: "a"},
		"no external id": {SourceID: "hr", UserName: "a"},
	} {
		if _, err := s.SyncIdentities(ctx, "hr", []identity.Identity{id}, audit.Event{Action: "source.synced"}); err == nil {
			t.Fatalf("%s: sync succeeded", name)
		}
	}
}
