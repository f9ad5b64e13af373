package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// insertRevocations stores a run's revocations, filling in what the run
// decides (RunID, RuleID, Scheduled, creation times) and their ids.
func (s *Store) insertRevocations(ctx context.Context, tx *sql.Tx, run store.Run, revs []store.Revocation, now time.Time) error {
	if len(revs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO revocations (run_id, rule_id, identity_id, user_name,
		application_id, account_id, account_name, action, state, due_at, created_at, updated_at, finished_at,
		attempts, last_error, result, cancel_reason, queued, before_account, undo_of)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range revs {
		r := &revs[i]
		before, err := records.PrepareRevocation(r, run, now)
		if err != nil {
			return err
		}
		res, err := stmt.ExecContext(ctx, r.RunID, r.RuleID, r.IdentityID, r.UserName, r.ApplicationID, r.AccountID,
			r.AccountName, string(r.Action), string(r.State), timeArg(r.DueAt), timeArg(r.CreatedAt),
			timeArg(r.UpdatedAt), timeArg(r.FinishedAt), r.Attempts, r.LastError, r.Result, r.CancelReason, r.Queued,
			before, r.UndoOf)
		if isUnique(err) {
			return records.ActiveConflict(*r)
		}
		if err != nil {
			return fmt.Errorf("revocation of %s in %s: %w", r.AccountID, r.ApplicationID, err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

const revocationColumns = `id, run_id, rule_id, identity_id, user_name, application_id, account_id, account_name,
	action, state, due_at, created_at, updated_at, finished_at, attempts, pauses, last_error, result, cancel_reason,
	queued, before_account, undo_of`

func scanRevocation(sc records.Scanner) (store.Revocation, error) {
	var r store.Revocation
	var action, state string
	var due, created, updated, finished, before sql.NullString
	if err := sc.Scan(&r.ID, &r.RunID, &r.RuleID, &r.IdentityID, &r.UserName, &r.ApplicationID, &r.AccountID,
		&r.AccountName, &action, &state, &due, &created, &updated, &finished, &r.Attempts, &r.Pauses, &r.LastError, &r.Result,
		&r.CancelReason, &r.Queued, &before, &r.UndoOf); err != nil {
		return r, err
	}
	if before.Valid {
		if err := records.DecodeBefore(&r, before.String); err != nil {
			return r, err
		}
	}
	r.Action, r.State = account.Action(action), store.RevocationState(state)
	for _, f := range []struct {
		dst *time.Time
		src sql.NullString
	}{{&r.DueAt, due}, {&r.CreatedAt, created}, {&r.UpdatedAt, updated}, {&r.FinishedAt, finished}} {
		t, err := parseTime(f.src)
		if err != nil {
			return r, fmt.Errorf("revocation %d: %w", r.ID, err)
		}
		*f.dst = t
	}
	return r, nil
}

func readRevocation(ctx context.Context, db queryRower, id int64) (store.Revocation, error) {
	r, err := scanRevocation(db.QueryRowContext(ctx, `SELECT `+revocationColumns+` FROM revocations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Revocation{}, fmt.Errorf("revocation %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Revocation{}, fmt.Errorf("read revocation %d: %w", id, err)
	}
	return r, nil
}

// Revocation returns one revocation.
func (s *Store) Revocation(ctx context.Context, id int64) (store.Revocation, error) {
	return readRevocation(ctx, s.db, id)
}

// ListRevocations returns revocations in id order. A nil States does not
// filter; a non-nil empty one selects nothing.
func (s *Store) ListRevocations(ctx context.Context, q store.RevocationQuery) ([]store.Revocation, error) {
	if q.States != nil && len(q.States) == 0 {
		return nil, nil
	}
	var where []string
	var args []any
	if len(q.States) > 0 {
		list, stateArgs := in(records.StateStrings(q.States))
		where, args = append(where, "state IN "+list), append(args, stateArgs...)
	}
	if q.RuleID != "" {
		where, args = append(where, "rule_id = ?"), append(args, q.RuleID)
	}
	if q.RunID != 0 {
		where, args = append(where, "run_id = ?"), append(args, q.RunID)
	}
	if q.IdentityID != "" {
		where, args = append(where, "identity_id = ?"), append(args, q.IdentityID)
	}
	if q.ApplicationID != "" {
		where, args = append(where, "application_id = ?"), append(args, q.ApplicationID)
	}
	if q.Unqueued {
		where = append(where, "queued = 0")
	}
	if q.After != 0 {
		where, args = append(where, "id > ?"), append(args, q.After)
	}
	query := `SELECT ` + revocationColumns + ` FROM revocations`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + records.RevocationOrder(q)
	if q.Limit > 0 {
		query, args = query+" LIMIT ?", append(args, q.Limit)
	}
	out, err := collect(ctx, s.db, scanRevocation, query, args...)
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
	err := s.write(ctx, fmt.Sprintf("update revocation %d", id), func(tx *sql.Tx) error {
		r, err := readRevocation(ctx, tx, id)
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
		sets := make([]string, len(assigns))
		args := make([]any, len(assigns), len(assigns)+1)
		for i, a := range assigns {
			sets[i], args[i] = a.Column+" = ?", bindArg(a.Value)
		}
		_, err = tx.ExecContext(ctx, `UPDATE revocations SET `+strings.Join(sets, ", ")+` WHERE id = ?`,
			append(args, id)...)
		if isUnique(err) {
			return records.UpdateConflict(id)
		}
		if err != nil {
			return err
		}
		if u.AccountState != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET state = ? WHERE application_id = ? AND native_id = ?`,
				string(u.AccountState), r.ApplicationID, r.AccountID); err != nil {
				return fmt.Errorf("account %s/%s: %w", r.ApplicationID, r.AccountID, err)
			}
		}
		if u.ClearEntitlements {
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET entitlements = '[]' WHERE application_id = ? AND native_id = ?`,
				r.ApplicationID, r.AccountID); err != nil {
				return fmt.Errorf("account %s/%s: %w", r.ApplicationID, r.AccountID, err)
			}
		}
		if u.ForgetMatch {
			if _, err := tx.ExecContext(ctx, `DELETE FROM matches WHERE rule_id = ? AND identity_id = ?`,
				r.RuleID, r.IdentityID); err != nil {
				return fmt.Errorf("forget match: %w", err)
			}
		}
		if err := s.appendEvents(ctx, tx, records.RevocationEvent(ev, r)); err != nil {
			return err
		}
		out, err = records.Updated(r, u, now)
		return err
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
	return s.write(ctx, "mark revocations queued", func(tx *sql.Tx) error {
		for _, chunk := range chunks(ids) {
			list, args := in(chunk)
			res, err := tx.ExecContext(ctx, `UPDATE revocations SET queued = 1 WHERE id IN `+list, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if int(n) < len(chunk) {
				return missingRevocation(ctx, tx, chunk)
			}
		}
		return nil
	})
}

// missingRevocation names the first of ids that does not exist.
func missingRevocation(ctx context.Context, tx *sql.Tx, ids []int64) error {
	for _, id := range ids {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM revocations WHERE id = ?`, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("revocation %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
	}
	return errors.New("some revocations were not updated")
}

// CountRevocations counts revocations by rule, application and state.
func (s *Store) CountRevocations(ctx context.Context, states ...store.RevocationState) ([]store.RevocationCount, error) {
	where, args := "", []any(nil)
	if len(states) > 0 {
		var list string
		list, args = in(records.StateStrings(states))
		where = ` WHERE state IN ` + list
	}
	out, err := collect(ctx, s.db, records.ScanRevocationCount, records.CountRevocationsSQL(where), args...)
	if err != nil {
		return nil, fmt.Errorf("count revocations: %w", err)
	}
	return out, nil
}
