// Package postgres is deprov's scale-out store: the store.Store contract on
// PostgreSQL (pgx), with River's job tables in the same database, so that
// several deprov nodes share one database, its revocation work and one
// audit chain.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

var (
	_ store.Store     = (*Store)(nil)
	_ store.JobClient = (*river.Client[pgx.Tx])(nil)
)

// Options tunes a Store.
type Options struct {
	// Now is the store's clock, for the timestamps it sets itself and for
	// events given with a zero Time. Default time.Now.
	Now func() time.Time
}

// Store is store.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// Open connects to the database at url (a postgres:// URL or a keyword/value
// connection string; pool settings such as pool_max_conns go in it). Call
// Migrate before first use.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The whole error quotes the connection string, and pgx's masking
		// of the password in it is best effort: give only the reason.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			return nil, fmt.Errorf("open postgres: invalid connection string: %w", pe.Unwrap())
		}
		return nil, errors.New("open postgres: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}, nil
}

// Pool returns the connection pool, for tests and tools.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close releases the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// NewJobClient builds a River client on this database with cfg.
func (s *Store) NewJobClient(cfg *river.Config) (store.JobClient, error) {
	c, err := river.NewClient(riverpgxv5.New(s.pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("new job client: %w", err)
	}
	return c, nil
}

// clock returns the store's time as it is kept.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Advisory locks take two int4 keys; deprov's use these classes, apart
// from River's (which take one bigint and so never collide with them).
const (
	// lockClass with lockAudit serialises appends to the audit chain, with
	// lockMigrate migrations.
	lockClass   = 0x64707276 // "dprv"
	lockAudit   = 1
	lockMigrate = 2
	// lockKeyClass with hashtext(key) serialises writers of one source's
	// identities or one application's accounts.
	lockKeyClass = 0x64707277
)

// lockKey takes a transaction-scoped lock on key; a hash collision only
// serialises two writers that need not be.
func lockKey(ctx context.Context, tx pgx.Tx, key string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockKeyClass, key); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	return nil
}

// maxAttempts bounds how often a transaction that PostgreSQL aborted for
// a deadlock or a serialization failure is run again.
const maxAttempts = 5

// write runs fn in a read-committed transaction and commits it, running it
// again when PostgreSQL aborts it for a deadlock or a serialization
// failure; fn must therefore start from its inputs each time.
func (s *Store) write(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryWrite(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt < maxAttempts && retryable(err) && ctx.Err() == nil {
			// A short random pause lets the other transaction finish.
			pause := time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))
			select {
			case <-time.After(pause):
				continue
			case <-ctx.Done():
			}
		}
		return fmt.Errorf("%s: %w", what, translate(err))
	}
}

func (s *Store) tryWrite(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only snapshot, for reads that take several
// queries and must see one state.
func (s *Store) read(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	return nil
}

// PostgreSQL error codes the store acts on.
const (
	codeUnique        = "23505"
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isUnique reports whether err is a unique violation.
func isUnique(err error) bool { return pgCode(err) == codeUnique }

func retryable(err error) bool {
	c := pgCode(err)
	return c == codeSerialization || c == codeDeadlock
}

// translate maps driver errors to the store's sentinels, keeping the
// driver's error in the chain.
func translate(err error) error {
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return err
	case isUnique(err):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// timeArg is a time as stored: NULL for the zero time.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

// bindArg is v as an argument, a time as timeArg keeps it.
func bindArg(v any) any {
	if t, ok := v.(time.Time); ok {
		return timeArg(t)
	}
	return v
}

// timeOf reads a nullable timestamptz as the store gives times back.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// where builds a WHERE clause with numbered parameters.
type where struct {
	conds []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// add adds a condition; each ? in cond is a new parameter, in order.
func (w *where) add(cond string, vs ...any) {
	for _, v := range vs {
		cond = strings.Replace(cond, "?", w.arg(v), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// scanner is a pgx.Row or pgx.Rows.
type scanner = records.Scanner

// db is what both the pool and a transaction offer.
type db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// collect scans every row of a query with scan.
func collect[T any](ctx context.Context, q db, scan func(scanner) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return records.Collect(rows, scan)
}
