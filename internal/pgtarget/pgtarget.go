// Package pgtarget gives tests a real PostgreSQL: one throwaway cluster per
// test binary (initdb in a temp dir, started with pg_ctl on 127.0.0.1 and
// a free port, never the system's cluster), and a fresh database on it for
// each caller, so that tests run in parallel on one server.
//
//	func TestMain(m *testing.M) { os.Exit(pgtarget.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		url := pgtarget.Start(t) // postgres://postgres@127.0.0.1:PORT/t_…
//	}
//
// When PostgreSQL is not installed, Start skips the test with how to
// install it, except under CI=true, where it fails it.
package pgtarget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Install is the command that provides PostgreSQL on Debian.
const Install = "apt-get install postgresql"

// cluster is the running server and what was made on it.
type cluster struct {
	dir   string // temp dir holding data, socket and log
	bin   string // directory of initdb and pg_ctl
	port  int
	opts  string        // the server options pg_ctl started it with, for Restart
	admin *pgxpool.Pool // on the postgres database, for CREATE/DROP DATABASE

	mu        sync.Mutex
	templates map[string]*template
}

// template is a prepared database that Start copies.
type template struct {
	once sync.Once
	name string
	err  error
}

var (
	mu      sync.Mutex
	refs    int
	running *cluster
	// startErr remembers why the cluster did not start, so that every
	// test of the binary fails fast with the reason instead of retrying.
	startErr error
)

// Main runs a package's tests on one cluster, started by the first Start
// and stopped when m.Run returns; without it, the cluster stops whenever
// no test holds a database and the next Start starts another.
func Main(m *testing.M) int {
	mu.Lock()
	refs++
	mu.Unlock()
	code := m.Run()
	release()
	return code
}

// Start returns the URL of a new, empty database on the binary's cluster,
// dropped when t ends.
func Start(t testing.TB) string {
	t.Helper()
	c := acquire(t)
	name := newName(t)
	// STRATEGY FILE_COPY copies the files instead of logging every page:
	// faster for the small databases tests use.
	if _, err := c.admin.Exec(context.Background(), "CREATE DATABASE "+name+" STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("pgtarget: create database: %v", err)
	}
	t.Cleanup(func() { c.drop(t, name) })
	return c.url(name)
}

// StartFrom is Start for tests that all need the same prepared database:
// the first call with a name creates a database and runs prepare on it
// (which must close its connections); every call returns a new database
// copied from that one, which is much faster than preparing each. The
// prepared database lives as long as the cluster.
func StartFrom(t testing.TB, templateName string, prepare func(ctx context.Context, url string) error) string {
	t.Helper()
	c := acquire(t)
	c.mu.Lock()
	if c.templates == nil {
		c.templates = map[string]*template{}
	}
	tp := c.templates[templateName]
	if tp == nil {
		tp = &template{}
		c.templates[templateName] = tp
	}
	c.mu.Unlock()
	tp.once.Do(func() {
		tp.name = newName(t)
		if _, tp.err = c.admin.Exec(context.Background(), "CREATE DATABASE "+tp.name); tp.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := prepare(ctx, c.url(tp.name)); err != nil {
			tp.err = fmt.Errorf("prepare: %w", err)
		}
	})
	if tp.err != nil {
		t.Fatalf("pgtarget: template %s: %v", templateName, tp.err)
	}
	name := newName(t)
	if _, err := c.admin.Exec(context.Background(),
		"CREATE DATABASE "+name+" TEMPLATE "+tp.name+" STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("pgtarget: create database from %s: %v", templateName, err)
	}
	t.Cleanup(func() { c.drop(t, name) })
	return c.url(name)
}

func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// drop removes a test's database, disconnecting whatever the test left
// connected, and releases the test's hold on the cluster.
func (c *cluster) drop(t testing.TB, name string) {
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtarget: drop database %s: %v", name, err)
	}
}

func newName(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t_" + hex.EncodeToString(b)
}

// acquire returns the running cluster, starting it if needed, and holds it
// until t ends (the caller's cleanup releases it).
func acquire(t testing.TB) *cluster {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtarget: %v (CI=true: install it: %s)", err, Install)
		}
		t.Skipf("pgtarget: %v; to run this test: %s", err, Install)
	}
	mu.Lock()
	defer mu.Unlock()
	if startErr != nil {
		t.Fatalf("pgtarget: %v", startErr)
	}
	if running == nil {
		c, err := start(bin)
		if err != nil {
			startErr = err
			t.Fatalf("pgtarget: %v", err)
		}
		running = c
	}
	refs++
	return running
}

// release drops one hold on the cluster and stops it after the last.
func release() {
	mu.Lock()
	defer mu.Unlock()
	refs--
	if refs > 0 || running == nil {
		return
	}
	c := running
	running = nil
	c.stop()
}

// binDir finds the newest installed PostgreSQL's programs.
func binDir() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(found) == 0 {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			found = []string{p}
		}
	}
	if len(found) == 0 {
		return "", errors.New("PostgreSQL is not installed (no pg_ctl under /usr/lib/postgresql/*/bin or on PATH)")
	}
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	return filepath.Dir(found[0]), nil
}

// start creates and starts a cluster. PostgreSQL refuses to run as root,
// so as root it runs as the postgres user, owning the temp dir.
func start(bin string) (_ *cluster, err error) {
	dir, err := os.MkdirTemp("", "pgtarget-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, bin: bin}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A free port can be taken between finding it and the server binding
	// it; try a few.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
		// Durability is not what tests need: no fsync, no full-page writes.
		opts := strings.Join([]string{
			"-p", strconv.Itoa(c.port), "-c", "listen_addresses=127.0.0.1", "-k", dir,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=300", "-c", "shared_buffers=64MB",
			// Tests that provoke deadlocks should not wait a second for each.
			"-c", "deadlock_timeout=50ms",
		}, " ")
		out, err := c.run("pg_ctl", "start", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts)
		if err == nil {
			c.opts = opts
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		if attempt == 2 || !strings.Contains(string(log), "Address already in use") {
			return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(c.url("postgres"))
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 4
	if c.admin, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	if err := c.admin.Ping(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// Restart stops the binary's cluster as an operator's restart does (a fast
// shutdown: every client is disconnected and open transactions abort),
// keeps it down for down, and starts it again on the same port with the
// same data. Every database survives; no connection does. Tests that
// restart must not run beside tests that cannot take it.
func Restart(t testing.TB, down time.Duration) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	c := running
	if c == nil {
		t.Fatal("pgtarget: Restart without a running cluster (call Start first)")
	}
	data := filepath.Join(c.dir, "data")
	if out, err := c.run("pg_ctl", "stop", "-D", data, "-m", "fast", "-w", "-t", "60"); err != nil {
		t.Fatalf("pgtarget: pg_ctl stop: %v\n%s", err, out)
	}
	time.Sleep(down)
	if out, err := c.run("pg_ctl", "start", "-D", data, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "-o", c.opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("pgtarget: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// stop stops the server (without waiting for clients: tests are over) and
// removes its files.
func (c *cluster) stop() {
	if c.admin != nil {
		c.admin.Close()
	}
	data := filepath.Join(c.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		c.run("pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", "-t", "30") //nolint:errcheck // best effort
	}
	os.RemoveAll(c.dir)
}

// run runs one of PostgreSQL's programs, as postgres when we are root.
func (c *cluster) run(prog string, args ...string) ([]byte, error) {
	name := filepath.Join(c.bin, prog)
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	// pg_ctl's server inherits these; keep them from holding the test's
	// output open after pg_ctl returns.
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	return out, err
}

// freePort asks the kernel for a free port on loopback.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Conn opens one connection to url, closed when t ends: for tests that
// look at a database directly.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("pgtarget: connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
