// Package sqlite is deprov's embedded store: the store.Store contract on one
// SQLite file (pure Go, modernc.org/sqlite), with River's job tables in the
// same database so that a revocation and its job commit together.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

var (
	_ store.Store     = (*Store)(nil)
	_ store.JobClient = (*river.Client[*sql.Tx])(nil)
)

// Options tunes a Store.
type Options struct {
	// Now is the store's clock, for the timestamps it sets itself and for
	// events given with a zero Time. Default time.Now.
	Now func() time.Time
}

// Store is store.Store on SQLite.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// dsnParams: WAL lets readers in other processes proceed beside the writer;
// the busy timeout makes writers of several processes queue instead of
// failing; _txlock=immediate takes the write lock at BEGIN, so that a
// transaction that reads and then writes cannot fail to upgrade its lock.
const dsnParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Open opens (creating if needed) the database at path. Call Migrate before
// first use.
func Open(path string, opts Options) (*Store, error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	db := sql.OpenDB(cachingConnector{dsn: path + sep + dsnParams, d: &sqlite.Driver{}})
	// River's SQLite driver runs several services at once; with more than one
	// connection they fail each other with SQLITE_BUSY. One connection
	// serialises everything in this process; never hold a rows cursor open
	// while issuing another query, or it deadlocks.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// DB returns the database, for tests and tools.
func (s *Store) DB() *sql.DB { return s.db }

// Close releases the database.
func (s *Store) Close() error { return s.db.Close() }

// NewJobClient builds a River client on this database with cfg.
func (s *Store) NewJobClient(cfg *river.Config) (store.JobClient, error) {
	c, err := river.NewClient(riversqlite.New(s.db), cfg)
	if err != nil {
		return nil, fmt.Errorf("new job client: %w", err)
	}
	return c, nil
}

// clock returns the store's time as it is kept.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// write runs fn in a write transaction (BEGIN IMMEDIATE) and commits it.
func (s *Store) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// read runs fn in a read transaction, for reads that take several queries
// and must see one state.
func (s *Store) read(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// timeArg is a time as stored: NULL for the zero time, else UTC text at
// microsecond precision, which sorts as it compares.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(audit.TimeFormat)
}

// bindArg is v as an argument, a time as timeArg keeps it.
func bindArg(v any) any {
	if t, ok := v.(time.Time); ok {
		return timeArg(t)
	}
	return v
}

// parseTime reads a time written by timeArg.
func parseTime(v sql.NullString) (time.Time, error) {
	if !v.Valid || v.String == "" {
		return time.Time{}, nil
	}
	if t, ok := parseKeptTime(v.String); ok {
		return t, nil
	}
	t, err := time.Parse(audit.TimeFormat, v.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", v.String, err)
	}
	return t, nil
}

// parseKeptTime reads a time as timeArg writes it (audit.TimeFormat,
// 2006-01-02T15:04:05.000000Z) without time.Parse's generality: a list of
// a million identities or accounts reads a million of them. Anything else
// (ok false) is left to time.Parse, which also reports what is wrong.
func parseKeptTime(s string) (t time.Time, ok bool) {
	if len(s) != len(audit.TimeFormat) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var f [7]int
	for i, r := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 26}} {
		if f[i], ok = num(r[0], r[1]); !ok {
			return time.Time{}, false
		}
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, false
	}
	t = time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6]*1000, time.UTC)
	if t.Day() != f[2] { // 31 April and the like: let time.Parse say so
		return time.Time{}, false
	}
	return t, true
}

// queryer is what both the database and a transaction offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// collect scans every row of a query with scan. It reads every row before
// it returns, so that no cursor stays open (see Open).
func collect[T any](ctx context.Context, q queryer, scan func(records.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return records.Collect(rows, scan)
}

// maxIn bounds the ids bound in one IN list.
const maxIn = 500

// chunks splits ids into slices of at most maxIn.
func chunks[T any](ids []T) [][]T {
	var out [][]T
	for len(ids) > maxIn {
		out = append(out, ids[:maxIn])
		ids = ids[maxIn:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// in returns "(?,?,...)" for n values and the values as arguments.
func in[T any](vs []T) (string, []any) {
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", len(vs)), ",") + ")", args
}
