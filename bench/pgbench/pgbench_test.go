// Package pgbench holds the benchmark figures measured on PostgreSQL. It is
// a package of its own so that the SQLite figures never depend on the
// PostgreSQL store building.
package pgbench

import (
	"context"
	"os"
	"testing"

	"github.com/deprov/deprov/bench"
	"github.com/deprov/deprov/internal/pgtarget"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtarget.Main(m)) }

// BenchmarkOverheadPostgres is BenchmarkOverhead on PostgreSQL (a
// throwaway cluster on loopback, see internal/pgtarget): 5,000 leavers
// revoked against a target that answers at once, the better of two rounds.
func BenchmarkOverheadPostgres(b *testing.B) {
	newStore := func() store.Store {
		ctx := context.Background()
		st, err := postgres.Open(ctx, pgtarget.Start(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		return st
	}
	res := bench.Overhead(b, newStore, 5000, 0, 2)
	bench.Report(b, "overhead_postgres", res.Rate(), "revocations/s")
	bench.Report(b, "overhead_postgres_cpu", float64(res.CPUPerRevocation().Microseconds()), "us/revocation")
}
