package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// TestMigrateBackfillsFolds: identities written before 0002 are found by
// UserName (folded beyond ASCII) and HideStatus after it.
func TestMigrateBackfillsFolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "deprov.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := records.Migrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, ms[0].SQL); err != nil {
		t.Fatal(err)
	}
	// A row as 0001's SyncIdentities wrote it.
	id := identity.Identity{SourceID: "hr", ExternalID: "1", UserName: "Zoë.Ångström", Email: "z@example.com", Status: "Terminated"}
	row, err := records.NewIdentityRow(id.SourceID, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO identities (key, source_id, external_id, user_name, email,
		display_name, status, end_date, department, manager, attributes, search, hash, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, id.ID(), id.SourceID, id.ExternalID, id.UserName, id.Email, "",
		id.Status, "", "", "", row.Attrs, row.Search, row.Hash, timeArg(s.clock()), timeArg(s.clock())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
		name TEXT NOT NULL, applied_at TEXT NOT NULL); INSERT INTO schema_migrations VALUES (1, 'x', 'y')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.IdentityQuery{{UserName: "ZOË.ÅNGSTRÖM"}, {HideStatus: "active"}} {
		got, err := s.ListIdentities(ctx, q)
		if err != nil || len(got) != 1 {
			t.Fatalf("%+v after migration: %d identities, %v", q, len(got), err)
		}
	}
	if got, err := s.ListIdentities(ctx, store.IdentityQuery{HideStatus: "TERMINATED"}); err != nil || len(got) != 0 {
		t.Fatalf("hidden status after migration: %d identities, %v", len(got), err)
	}
	// The next sync of the same record changes nothing.
	res, err := s.SyncIdentities(ctx, "hr", []identity.Identity{id}, audit.Event{Action: "source.synced"})
	if err != nil || res.Unchanged != 1 {
		t.Fatalf("sync after migration: %+v, %v", res, err)
	}
}
