// Package bench holds deprov's performance benchmarks and what they share:
// generated identities, a revocation harness that drives the engine end to
// end against a target, fake SCIM targets (instant or with a fixed
// latency), a bare HTTP client to compare the engine with, and the
// `BENCH <name> <value> <unit>` lines that ./scripts/bench collects.
//
// Every figure is a ratio to a limit measured in the same run, because
// absolute times drift on shared machines. The benchmarks live in this
// package's _test.go files (SQLite) and in bench/pgbench (PostgreSQL, kept
// apart so that a PostgreSQL store that does not build never stops the
// SQLite figures). Run them with ./scripts/bench; `go test ./bench/...`
// without -bench only checks that the harness works.
package bench
