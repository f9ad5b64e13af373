package faulttest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to watch progress
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/deprov/deprov/internal/scimtarget"
	"github.com/deprov/deprov/store"
)

// tokenEnv names the variable that carries the target's token to deprov:
// the configuration refers to it as ${env:…}, as in production.
const tokenEnv = "FAULTTEST_SCIM_TOKEN"

// rescueFlags let a restarted or surviving node take over the revocations a
// killed node was running soon: an attempt against SCIMMY takes
// milliseconds, so 10 s bounds it with room, and --rescue-after must be at
// least that plus River's 10 s.
var rescueFlags = []string{"--attempt-timeout", "10s", "--rescue-after", "20s"}

// rescueWait bounds how long a test waits for work a dead node left: the
// rescue delay, River's rescuer period (30 s) and leader election (15 s).
const rescueWait = 20*time.Second + 30*time.Second + 15*time.Second + time.Minute

// rigOptions shape a rig.
type rigOptions struct {
	// db is a SQLite file path or a postgres:// URL.
	db string
	// target holds the leavers' accounts; scimURL is where deprov reaches it
	// (default target.URL; a proxy's URL in the outage test).
	target  *scimtarget.Target
	scimURL string
	// leavers is how many TERMINATED identities with an active account the
	// rule disables.
	leavers int
	// allocation is the leavers rule's processAllocationSize.
	allocation int
	// rateLimit and maxAttempts are the application's (0: deprov's default).
	rateLimit   float64
	maxAttempts int
	// extraRules is YAML appended under rules:.
	extraRules string
}

// rig is one test's world: a database, a SCIM target with the leavers'
// accounts, deprov's configuration connecting them, and the nodes started.
type rig struct {
	t      *testing.T
	o      rigOptions
	dir    string
	bin    string
	env    []string
	ids    map[string]string // leaver userName → account id in the target
	watch  *sql.DB           // the test's own connection, to watch progress
	nodes  []*node
	pg     bool
	prefix string // of userNames, unique per rig
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	if o.scimURL == "" {
		o.scimURL = o.target.URL
	}
	r := &rig{t: t, o: o, dir: t.TempDir(), bin: deprovBinary(t), prefix: "leaver-"}
	r.pg = strings.HasPrefix(o.db, "postgres://")
	r.env = append(os.Environ(), tokenEnv+"="+o.target.Token)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range r.nodes {
				t.Logf("node %s log (tail):\n%s", n.name, tail(n.log.String(), 60))
			}
		}
	})
	return r
}

// prepare creates the leavers' accounts in the target and, through the
// CLI as an operator would, applies the configuration, syncs the HR feed,
// aggregates the application and runs the leavers rule once, which
// schedules one disable per leaver, due now, for `serve` to carry out.
func (r *rig) prepare() {
	t := r.t
	t.Helper()
	start := time.Now()
	names := make([]string, r.o.leavers)
	var csv strings.Builder
	csv.WriteString("employee_id,login,status\n")
	for i := range names {
		names[i] = fmt.Sprintf("%s%05d", r.prefix, i)
		fmt.Fprintf(&csv, "%d,%s,TERMINATED\n", i+1, names[i])
	}
	r.ids = createUsers(t, r.o.target, names)
	t.Logf("created %d users in %s", len(names), time.Since(start).Round(time.Millisecond))
	csvPath := filepath.Join(r.dir, "hr.csv")
	cfgPath := filepath.Join(r.dir, "deprov.yaml")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(r.config(csvPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.deprov("apply", "-f", cfgPath)
	t.Logf("apply done at %s", time.Since(start).Round(time.Millisecond))
	r.deprov("sync", "hr")
	t.Logf("sync done at %s", time.Since(start).Round(time.Millisecond))
	r.deprov("aggregate", "app")
	t.Logf("aggregate done at %s", time.Since(start).Round(time.Millisecond))
	r.deprov("run", "leavers")
	t.Logf("run done at %s", time.Since(start).Round(time.Millisecond))
	if n := r.counts(); n[store.Scheduled] != r.o.leavers {
		t.Fatalf("after the run: %v, want %d scheduled", n, r.o.leavers)
	}
	t.Logf("prepared %d leavers with accounts and scheduled revocations in %s", r.o.leavers, time.Since(start).Round(time.Millisecond))
}

func (r *rig) config(csvPath string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `applications:
  - id: app
    connector: {type: scim, url: %q, token: "${env:%s}", pageSize: 1000, timeoutSeconds: 10}
    correlation: {account: userName, identity: userName}
`, r.o.scimURL, tokenEnv)
	if r.o.rateLimit > 0 {
		fmt.Fprintf(&b, "    rateLimit: %v\n", r.o.rateLimit)
	}
	if r.o.maxAttempts > 0 {
		fmt.Fprintf(&b, "    maxAttempts: %d\n", r.o.maxAttempts)
	}
	fmt.Fprintf(&b, `sources:
  - id: hr
    type: csv
    path: %q
    columns: {externalId: employee_id, userName: login, status: status}
rules:
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    gracePeriodDays: 0
    processAllocationSize: %d
`, csvPath, r.o.allocation)
	b.WriteString(r.o.extraRules)
	return b.String()
}

// deprov runs a CLI command against the rig's database and returns its
// standard output; a non-zero exit fails the test.
func (r *rig) deprov(args ...string) string {
	r.t.Helper()
	code, out, errOut := r.deprovCode(args...)
	if code != 0 {
		r.t.Fatalf("deprov %s: exit %d\n%s\n%s", strings.Join(args, " "), code, tail(out, 20), tail(errOut, 20))
	}
	return out
}

// deprovCode runs a CLI command and returns its exit code and output.
func (r *rig) deprovCode(args ...string) (code int, stdout, stderr string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--db", r.o.db}, args...)...)
	cmd.Dir, cmd.Env = r.dir, r.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		r.t.Fatalf("deprov %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errOut.String()
}

// deprovJSON runs a CLI command with -o json and decodes its answer.
func (r *rig) deprovJSON(v any, args ...string) {
	r.t.Helper()
	out := r.deprov(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		r.t.Fatalf("deprov %s: decode: %v\n%s", strings.Join(args, " "), err, tail(out, 10))
	}
}

// db is the test's own connection to the database, for watching progress
// while nodes work (a plain read; SQLite's WAL lets it beside the writer).
func (r *rig) db() *sql.DB {
	r.t.Helper()
	if r.watch != nil {
		return r.watch
	}
	driver, dsn := "sqlite", r.o.db+"?_pragma=busy_timeout(10000)"
	if r.pg {
		driver, dsn = "pgx", r.o.db
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		r.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	r.t.Cleanup(func() { db.Close() })
	r.watch = db
	return db
}

// tryCounts counts revocations by state.
func (r *rig) tryCounts() (map[store.RevocationState]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := r.db().QueryContext(ctx, `SELECT state, count(*) FROM revocations GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[store.RevocationState]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[store.RevocationState(s)] = n
	}
	return out, rows.Err()
}

func (r *rig) counts() map[store.RevocationState]int {
	r.t.Helper()
	n, err := r.tryCounts()
	if err != nil {
		r.t.Fatalf("count revocations: %v", err)
	}
	return n
}

// running returns the ids of the revocations deprov's records show as
// running: after a crash, the attempts the crash interrupted.
func (r *rig) running() (map[int64]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := r.db().QueryContext(ctx, `SELECT id FROM revocations WHERE state = 'running'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

func (r *rig) mustRunning() map[int64]bool {
	r.t.Helper()
	ids, err := r.running()
	if err != nil {
		r.t.Fatalf("list running revocations: %v", err)
	}
	return ids
}

// waitFor polls the revocation counts until cond holds. A database that
// does not answer (PostgreSQL restarting) counts as "not yet".
func (r *rig) waitFor(what string, timeout time.Duration, cond func(map[store.RevocationState]int) bool) map[store.RevocationState]int {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[store.RevocationState]int
	var lastErr error
	for {
		n, err := r.tryCounts()
		if err == nil {
			last = n
			if cond(n) {
				return n
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not after %s; revocations %v (last error %v)", what, timeout, last, lastErr)
		}
		for _, n := range r.nodes {
			if n.exitedUnexpectedly() {
				r.t.Fatalf("%s: node %s exited: %v\n%s", what, n.name, n.err, tail(n.log.String(), 40))
			}
		}
		time.Sleep(100 * time.Millisecond) // polling another process's progress
	}
}

// allTerminal says no revocation is scheduled, running or waiting.
func allTerminal(n map[store.RevocationState]int) bool {
	return n[store.Scheduled]+n[store.Running]+n[store.Waiting] == 0
}

// tail keeps the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
