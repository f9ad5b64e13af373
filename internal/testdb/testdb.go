// Package testdb opens the stores that tests run on.
package testdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/deprov/deprov/store/sqlite"
)

// SQLite opens and migrates a SQLite store in dir (deprov.db), closed when
// the test ends; now is its clock (nil: the real one).
func SQLite(tb testing.TB, dir string, now func() time.Time) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "deprov.db"), sqlite.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}
