package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// insertRevocations stores a run's revocations, filling in what the run
// decides (RunID, RuleID, Scheduled, creation times) and their ids, in one
// round trip.
func insertRevocations(ctx context.Context, tx pgx.Tx, run store.Run, revs []store.Revocation, now time.Time) error {
	if len(revs) == 0 {
		return nil
	}
	var b pgx.Batch
	for i := range revs {
		r := &revs[i]
		before, err := records.PrepareRevocation(r, run, now)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO revocations (run_id, rule_id, identity_id, user_name, application_id, account_id,
			account_name, action, state, due_at, created_at, updated_at, finished_at, attempts, last_error, result,
			cancel_reason, queued, before_account, undo_of)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20) RETURNING id`,
			r.RunID, r.RuleID, r.IdentityID, r.UserName, r.ApplicationID, r.AccountID, r.AccountName, string(r.Action),
			string(r.State), timeArg(r.DueAt), timeArg(r.CreatedAt), timeArg(r.UpdatedAt), timeArg(r.FinishedAt),
			r.Attempts, r.LastError, r.Result, r.CancelReason, r.Queued, before, r.UndoOf)
	}
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	for i := range revs {
		r := &revs[i]
		err := br.QueryRow().Scan(&r.ID)
		if isUnique(err) {
			return records.ActiveConflict(*r)
		}
		if err != nil {
			return fmt.Errorf("revocation of %s in %s: %w", r.AccountID, r.ApplicationID, err)
		}
	}
	return br.Close()
}

const revocationColumns = `id, run_id, rule_id, identity_id, user_name, application_id, account_id, account_name,
	action, state, due_at, created_at, updated_at, finished_at, attempts, pauses, last_error, result, cancel_reason,
	queued, before_account, undo_of`

func scanRevocation(sc scanner) (store.Revocation, error) {
	var r store.Revocation
	var action, state string
	var due, created, updated, finished *time.Time
	var before *string
	if err := sc.Scan(&r.ID, &r.RunID, &r.RuleID, &r.IdentityID, &r.UserName, &r.ApplicationID, &r.AccountID,
		&r.AccountName, &action, &state, &due, &created, &updated, &finished, &r.Attempts, &r.Pauses, &r.LastError, &r.Result,
		&r.CancelReason, &r.Queued, &before, &r.UndoOf); err != nil {
		return r, err
	}
	r.Action, r.State = account.Action(action), store.RevocationState(state)
	r.DueAt, r.CreatedAt, r.UpdatedAt, r.FinishedAt = timeOf(due), timeOf(created), timeOf(updated), timeOf(finished)
	if before != nil {
		if err := records.DecodeBefore(&r, *before); err != nil {
			return r, err
		}
	}
	return r, nil
}

// readRevocation reads a revocation; lock is "" or " FOR UPDATE".
func readRevocation(ctx context.Context, q db, id int64, lock string) (store.Revocation, error) {
	r, err := scanRevocation(q.QueryRow(ctx, `SELECT `+revocationColumns+` FROM revocations WHERE id = $1`+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Revocation{}, fmt.Errorf("revocation %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Revocation{}, fmt.Errorf("read revocation %d: %w", id, err)
	}
	return r, nil
}

// Revocation returns one revocation.
func (s *Store) Revocation(ctx context.Context, id int64) (store.Revocation, error) {
	return readRevocation(ctx, s.pool, id, "")
}

// ListRevocations returns revocations in id order. A nil States does not
// filter; a non-nil empty one selects nothing.
func (s *Store) ListRevocations(ctx context.Context, q store.RevocationQuery) ([]store.Revocation, error) {
	if q.States != nil && len(q.States) == 0 {
		return nil, nil
	}
	var w where
	if len(q.States) > 0 {
		w.add("state = ANY(?)", records.StateStrings(q.States))
	}
	if q.RuleID != "" {
		w.add("rule_id = ?", q.RuleID)
	}
	if q.RunID != 0 {
		w.add("run_id = ?", q.RunID)
	}
	if q.IdentityID != "" {
		w.add("identity_id = ?", q.IdentityID)
	}
	if q.ApplicationID != "" {
		w.add("application_id = ?", q.ApplicationID)
	}
	if q.Unqueued {
		w.add("NOT queued")
	}
	if q.After != 0 {
		w.add("id > ?", q.After)
	}
	query := `SELECT ` + revocationColumns + ` FROM revocations` + w.sql() + " ORDER BY " + records.RevocationOrder(q)
	if q.Limit > 0 {
		query += " LIMIT " + w.arg(q.Limit)
	}
	out, err := collect(ctx, s.pool, scanRevocation, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

// UpdateRevocation applies u to a revocation in one of from, with its
// account change and match forgetting, and appends ev. ev's empty
// references (revocation, run, rule, identity, application) are filled in
// from the revocation.
func (s *Store) UpdateRevocation(ctx context.Context, id int64, from []store.RevocationState, u store.RevocationUpdate, ev audit.Event) (store.Revocation, error) {
	var out store.Revocation
	err := s.write(ctx, fmt.Sprintf("update revocation %d", id), func(tx pgx.Tx) error {
		r, err := readRevocation(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		if err := records.CheckRevocationState(r, from); err != nil {
			return err
		}
		now := s.clock()
		assigns, err := records.RevocationAssignments(u, now)
		if err != nil {
			return err
		}
		var w where
		sets := make([]string, len(assigns))
		for i, a := range assigns {
			sets[i] = a.Column + " = " + w.arg(bindArg(a.Value))
		}
		_, err = tx.Exec(ctx, `UPDATE revocations SET `+strings.Join(sets, ", ")+` WHERE id = `+w.arg(id), w.args...)
		if isUnique(err) {
			return records.UpdateConflict(id)
		}
		if err != nil {
			return err
		}
		if u.AccountState != "" {
			if _, err := tx.Exec(ctx, `UPDATE accounts SET state = $1 WHERE application_id = $2 AND native_id = $3`,
				string(u.AccountState), r.ApplicationID, r.AccountID); err != nil {
				return fmt.Errorf("account %s/%s: %w", r.ApplicationID, r.AccountID, err)
			}
		}
		if u.ClearEntitlements {
			if _, err := tx.Exec(ctx, `UPDATE accounts SET entitlements = '[]' WHERE application_id = $1 AND native_id = $2`,
				r.ApplicationID, r.AccountID); err != nil {
				return fmt.Errorf("account %s/%s: %w", r.ApplicationID, r.AccountID, err)
			}
		}
		if u.ForgetMatch {
			if _, err := tx.Exec(ctx, `DELETE FROM matches WHERE rule_id = $1 AND identity_id = $2`,
				r.RuleID, r.IdentityID); err != nil {
				return fmt.Errorf("forget match: %w", err)
			}
		}
		if out, err = records.Updated(r, u, now); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, records.RevocationEvent(ev, r))
	})
	if err != nil {
		return store.Revocation{}, err
	}
	return out, nil
}

// MarkQueued records that jobs exist for these revocations. An unknown id
// fails the whole call with ErrNotFound.
func (s *Store) MarkQueued(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	ids = records.Distinct(ids)
	return s.write(ctx, "mark revocations queued", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE revocations SET queued = true WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) == len(ids) {
			return nil
		}
		var missing int64
		err = tx.QueryRow(ctx, `SELECT i FROM unnest($1::bigint[]) AS i
			WHERE NOT EXISTS (SELECT 1 FROM revocations WHERE id = i) ORDER BY i LIMIT 1`, ids).Scan(&missing)
		if err != nil {
			return fmt.Errorf("find missing revocation: %w", err)
		}
		return fmt.Errorf("revocation %d: %w", missing, store.ErrNotFound)
	})
}

// CountRevocations counts revocations by rule, application and state.
func (s *Store) CountRevocations(ctx context.Context, states ...store.RevocationState) ([]store.RevocationCount, error) {
	var w where
	if len(states) > 0 {
		w.add("state = ANY(?)", records.StateStrings(states))
	}
	out, err := collect(ctx, s.pool, records.ScanRevocationCount, records.CountRevocationsSQL(w.sql()), w.args...)
	if err != nil {
		return nil, fmt.Errorf("count revocations: %w", err)
	}
	return out, nil
}
