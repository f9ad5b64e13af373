package bench

import (
	"testing"

	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/store"
)

// BenchmarkOverhead measures deprov's own cost per revocation on SQLite:
// 5,000 leavers revoked against a target that answers at once, from Run to
// the last success, the better of two rounds. Goal: 1,500 revocations/s.
//
// The _100k_accounts figure revokes 1,000 leavers of an application that
// holds 100,000 other accounts, as a real one does: per-revocation costs
// that grow with the application's size show there.
func BenchmarkOverhead(b *testing.B) {
	newStore := func() store.Store { return testdb.SQLite(b, b.TempDir(), nil) }
	res := Overhead(b, newStore, 5000, 0, 2)
	Report(b, "overhead", res.Rate(), "revocations/s") // the goal is for SQLite
	Report(b, "overhead_sqlite", res.Rate(), "revocations/s")
	Report(b, "overhead_sqlite_vs_goal", res.Rate()/1500, "ratio")
	Report(b, "overhead_sqlite_cpu", float64(res.CPUPerRevocation().Microseconds()), "us/revocation")
	big := Overhead(b, newStore, 1000, 100_000, 1)
	Report(b, "overhead_sqlite_100k_accounts", big.Rate(), "revocations/s")
}
