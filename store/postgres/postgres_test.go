package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/pgtarget"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/postgres"
	"github.com/deprov/deprov/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtarget.Main(m)) }

// open opens a store on url, closed when t ends.
func open(t testing.TB, url string, now func() time.Time) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, postgres.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrated opens a store on a new database copied from one migrated once
// (migrating River's tables is most of the time of a small test).
func migrated(t testing.TB, now func() time.Time) *postgres.Store {
	t.Helper()
	url := pgtarget.StartFrom(t, "migrated", func(ctx context.Context, url string) error {
		s, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Migrate(ctx)
	})
	return open(t, url, now)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	// A fixed clock in a zone other than UTC, with nanoseconds: the store
	// must keep its own times in UTC at microseconds.
	fixed := time.Date(2026, 11, 26, 14, 0, 0, 987654321, time.FixedZone("CET", 3600))
	storetest.Run(t, func(t *testing.T) store.Store {
		return migrated(t, func() time.Time { return fixed })
	})
}

// TestOpenHidesPassword: a connection string that does not parse is not
// repeated in the error, password and all.
func TestOpenHidesPassword(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"postgres://deprov:s3cret@127.0.0.1:notaport/deprov",
		"host=127.0.0.1 password=s3cret port=notaport",
	} {
		_, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", url)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open error shows the password: %v", err)
		}
	}
}
