package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// AppendAudit appends events that go with no other change.
func (s *Store) AppendAudit(ctx context.Context, evs ...audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.write(ctx, "append audit", func(tx *sql.Tx) error {
		return s.appendEvents(ctx, tx, evs...)
	})
}

// appendEvents chains evs, in order, after the last event and inserts them.
// It runs inside the caller's write transaction, so the chain follows commit
// order even with several processes on one file.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, evs ...audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var prev *audit.Event
	var last audit.Event
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last.Seq, &last.Hash)
	switch {
	case err == nil:
		prev = &last
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read chain head: %w", err)
	}
	details, err := records.EventDetails(evs)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit (seq, time, actor, action, rule_id, run_id, revocation_id,
		identity_id, application_id, message, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i, ev := range records.SealEvents(evs, prev, s.clock) {
		if _, err := stmt.ExecContext(ctx, ev.Seq, timeArg(ev.Time), ev.Actor, ev.Action, ev.RuleID, ev.RunID,
			ev.RevocationID, ev.IdentityID, ev.ApplicationID, ev.Message, details[i], ev.PrevHash, ev.Hash); err != nil {
			return fmt.Errorf("audit event %s: %w", ev.Action, err)
		}
	}
	return nil
}

// ListAudit returns events in chain order.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]audit.Event, error) {
	var where []string
	var args []any
	if q.RuleID != "" {
		where, args = append(where, "rule_id = ?"), append(args, q.RuleID)
	}
	if q.IdentityID != "" {
		where, args = append(where, "identity_id = ?"), append(args, q.IdentityID)
	}
	if q.RunID != 0 {
		where, args = append(where, "run_id = ?"), append(args, q.RunID)
	}
	if q.Action != "" {
		// substr, not LIKE: SQLite's LIKE folds ASCII case, and the prefix
		// is matched exactly, wildcards included.
		where, args = append(where, "substr(action, 1, length(?)) = ?"), append(args, q.Action, q.Action)
	}
	if !q.From.IsZero() {
		where, args = append(where, "time >= ?"), append(args, timeArg(records.CeilMicro(q.From)))
	}
	if !q.To.IsZero() {
		where, args = append(where, "time < ?"), append(args, timeArg(records.CeilMicro(q.To)))
	}
	if q.AfterSeq != 0 {
		where, args = append(where, "seq > ?"), append(args, q.AfterSeq)
	}
	query := `SELECT seq, time, actor, action, rule_id, run_id, revocation_id, identity_id, application_id,
		message, detail, prev_hash, hash FROM audit`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq"
	if q.Limit > 0 {
		query, args = query+" LIMIT ?", append(args, q.Limit)
	}
	out, err := collect(ctx, s.db, scanEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

func scanEvent(sc records.Scanner) (audit.Event, error) {
	var e audit.Event
	var t, detail sql.NullString
	if err := sc.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.RuleID, &e.RunID, &e.RevocationID, &e.IdentityID,
		&e.ApplicationID, &e.Message, &detail, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	var err error
	if e.Time, err = parseTime(t); err != nil {
		return e, fmt.Errorf("event %d: %w", e.Seq, err)
	}
	return e, records.DecodeDetail(&e, detail.String)
}

// AuditHead returns the position and hash of the chain's last event.
func (s *Store) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read chain head: %w", err)
	}
	return seq, hash, nil
}
