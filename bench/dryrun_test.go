package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dryRunN is how many identities the dry-run figure evaluates.
const dryRunN = 1_000_000

// BenchmarkDryRun1M dry-runs DryRunRule over a million identities (one
// account each) on SQLite, each time in a fresh child process so that its
// peak RSS is the dry run's own, and compares its time with a plain scan
// of the identity rows through the same driver, also in a fresh child. The
// database is built once and cached (see DryRunDB). The better of two
// rounds counts for each; memory is the worse of the two dry runs.
//
// Peak RSS is the child's own VmHWM, read by the child as it ends: the
// rusage a parent gets for a child on Linux also counts the parent's own
// peak at the time of the fork (the exec inherits it), which is the
// database build's when the cache was cold.
//
// With DEPROV_BENCH_PROFILE_DIR set, the children write CPU profiles there.
func BenchmarkDryRun1M(b *testing.B) {
	ctx := context.Background()
	dir, err := CacheDir()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	db, err := DryRunDB(ctx, dir, dryRunN, b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("database %s ready after %s", db, time.Since(start).Round(time.Millisecond))
	profile := func(name string) string {
		if d := os.Getenv("DEPROV_BENCH_PROFILE_DIR"); d != "" {
			return filepath.Join(d, name)
		}
		return ""
	}
	b.ResetTimer()
	var scan, dry childResult
	for round := range 2 {
		s, err := startChild("scan", db, profile("scan.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		d, err := startChild("dryrun", db, profile("dryrun.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("round %d: scan %.2f s (%d rows, peak RSS %d MiB); dry run %.2f s (%d evaluated, %d matched, %d planned, %d skipped; peak RSS %d MiB)",
			round+1, s.Seconds, s.Rows, s.HWMKiB>>10, d.Seconds, d.Rows, d.Matched, d.Planned, d.Skipped, d.HWMKiB>>10)
		if d.Rows != dryRunN || s.Rows != dryRunN {
			b.Fatalf("dry run evaluated %d and scan read %d rows, want %d", d.Rows, s.Rows, dryRunN)
		}
		if round == 0 || s.Seconds < scan.Seconds {
			scan.Seconds = s.Seconds
		}
		if round == 0 || d.Seconds < dry.Seconds {
			dry.Seconds = d.Seconds
		}
		dry.HWMKiB = max(dry.HWMKiB, d.HWMKiB)
	}
	b.StopTimer()
	Report(b, "dryrun_1m", dry.Seconds, "s")
	Report(b, "dryrun_1m_seconds", dry.Seconds, "s")
	Report(b, "dryrun_1m_rate", dryRunN/dry.Seconds, "identities/s")
	Report(b, "dryrun_1m_rss", float64(dry.HWMKiB)/1024, "MiB")
	Report(b, "dryrun_1m_rss_vs_limit", float64(dry.HWMKiB)/1024/256, "ratio")
	Report(b, "scan_1m_seconds", scan.Seconds, "s")
	Report(b, "dryrun_vs_scan", dry.Seconds/scan.Seconds, "ratio")
}
