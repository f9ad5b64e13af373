package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
)

// cachingConnector opens modernc connections that keep their prepared
// statements by query text: database/sql prepares, runs and closes a
// statement for every query, and SQLite's parser was a third of deprov's
// CPU per revocation.
type cachingConnector struct {
	dsn string
	d   driver.Driver
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.d.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{c: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.d }

const maxCachedStmts = 512

type cachingConn struct {
	c     driver.Conn
	stmts map[string]*cachedStmt
}

// The conn implements neither QueryerContext nor ExecerContext, so that
// database/sql goes through PrepareContext for every query.
var (
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
)

func (c *cachingConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *cachingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if s, ok := c.stmts[q]; ok && !s.busy {
		s.busy = true
		return s, nil
	}
	st, err := c.c.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if _, ok := c.stmts[q]; !ok && len(c.stmts) < maxCachedStmts {
		s := &cachedStmt{Stmt: st, busy: true, cached: true}
		c.stmts[q] = s
		return s, nil
	}
	return &cachedStmt{Stmt: st}, nil
}

func (c *cachingConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.Stmt.Close())
	}
	c.stmts = nil
	errs = append(errs, c.c.Close())
	return errors.Join(errs...)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, o driver.TxOptions) (driver.Tx, error) {
	return c.c.(driver.ConnBeginTx).BeginTx(ctx, o)
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

type cachedStmt struct {
	driver.Stmt
	busy, cached bool
}

func (s *cachedStmt) Close() error {
	if s.cached {
		s.busy = false
		return nil
	}
	return s.Stmt.Close()
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
