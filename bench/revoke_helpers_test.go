package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/deprov/deprov/store/sqlite"
)

// sqliteStore is a fresh, migrated SQLite store in the test's temp dir.
func sqliteStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "deprov.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}

// revokeAll revokes every id through deprov on a fresh SQLite store.
func revokeAll(tb testing.TB, url, token string, ids []string, alloc int, timeout time.Duration) Result {
	tb.Helper()
	return RevokeAll(tb, sqliteStore(tb), RigOptions{URL: url, Token: token, NativeIDs: ids, Alloc: alloc}, timeout)
}
