package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// AppendAudit appends events that go with no other change.
func (s *Store) AppendAudit(ctx context.Context, evs ...audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.write(ctx, "append audit", func(tx pgx.Tx) error {
		return s.appendEvents(ctx, tx, evs...)
	})
}

// appendEvents chains evs, in order, after the last event and inserts them.
// Several nodes append at once: the transaction-scoped advisory lock makes
// appenders take turns from reading the chain head until they commit, so
// the chain follows commit order and never forks. Callers append last in
// their transaction, after every other lock they take, so that holding
// this lock never waits on anything else.
func (s *Store) appendEvents(ctx context.Context, tx pgx.Tx, evs ...audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// Marshal every Detail before taking the lock.
	details, err := records.EventDetails(evs)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockAudit); err != nil {
		return fmt.Errorf("lock audit chain: %w", err)
	}
	var prev *audit.Event
	var last audit.Event
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last.Seq, &last.Hash)
	switch {
	case err == nil:
		prev = &last
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("read chain head: %w", err)
	}
	rows := make([][]any, len(evs))
	for i, ev := range records.SealEvents(evs, prev, s.clock) {
		rows[i] = []any{ev.Seq, ev.Time, ev.Actor, ev.Action, ev.RuleID, ev.RunID, ev.RevocationID, ev.IdentityID,
			ev.ApplicationID, ev.Message, details[i], ev.PrevHash, ev.Hash}
	}
	if len(rows) == 1 {
		_, err = tx.Exec(ctx, `INSERT INTO audit (seq, time, actor, action, rule_id, run_id, revocation_id,
			identity_id, application_id, message, detail, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			rows[0]...)
	} else {
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit"}, []string{"seq", "time", "actor", "action", "rule_id",
			"run_id", "revocation_id", "identity_id", "application_id", "message", "detail", "prev_hash", "hash"},
			pgx.CopyFromRows(rows))
	}
	if err != nil {
		return fmt.Errorf("audit events: %w", err)
	}
	return nil
}

// ListAudit returns events in chain order.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Event, error) {
	var w where
	if q.RuleID != "" {
		w.add("rule_id = ?", q.RuleID)
	}
	if q.IdentityID != "" {
		w.add("identity_id = ?", q.IdentityID)
	}
	if q.RunID != 0 {
		w.add("run_id = ?", q.RunID)
	}
	if q.Action != "" {
		// starts_with, not LIKE: the prefix is matched exactly, wildcards included.
		w.add("starts_with(action, ?)", q.Action)
	}
	if !q.From.IsZero() {
		w.add("time >= ?", records.CeilMicro(q.From))
	}
	if !q.To.IsZero() {
		w.add("time < ?", records.CeilMicro(q.To))
	}
	if q.AfterSeq != 0 {
		w.add("seq > ?", q.AfterSeq)
	}
	query := `SELECT seq, time, actor, action, rule_id, run_id, revocation_id, identity_id, application_id,
		message, detail, prev_hash, hash FROM audit` + w.sql() + " ORDER BY seq"
	if q.Limit > 0 {
		query += " LIMIT " + w.arg(q.Limit)
	}
	out, err := collect(ctx, s.pool, scanEvent, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

func scanEvent(sc scanner) (audit.Event, error) {
	var e audit.Event
	var detail *string
	if err := sc.Scan(&e.Seq, &e.Time, &e.Actor, &e.Action, &e.RuleID, &e.RunID, &e.RevocationID, &e.IdentityID,
		&e.ApplicationID, &e.Message, &detail, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	e.Time = e.Time.UTC()
	if detail != nil {
		return e, records.DecodeDetail(&e, *detail)
	}
	return e, nil
}

// AuditHead returns the position and hash of the chain's last event.
func (s *Store) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read chain head: %w", err)
	}
	return seq, hash, nil
}
