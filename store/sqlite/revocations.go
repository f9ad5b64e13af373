package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
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
		r.RunID = run.ID
		if r.RuleID == "" {
			r.RuleID = run.RuleID
		}
		if r.State == "" {
			r.State = store.Scheduled
		}
		r.CreatedAt = keptTime(r.CreatedAt, now)
		r.UpdatedAt = keptTime(r.UpdatedAt, r.CreatedAt)
		r.DueAt = keptTime(r.DueAt, time.Time{})
		r.FinishedAt = keptTime(r.FinishedAt, time.Time{})
		r.Before = keptAccount(r.Before)
		before, err := accountJSON(r.Before)
		if err != nil {
			return fmt.Errorf("revocation of %s in %s: before: %w", r.AccountID, r.ApplicationID, err)
		}
		res, err := stmt.ExecContext(ctx, r.RunID, r.RuleID, r.IdentityID, r.UserName, r.ApplicationID, r.AccountID,
			r.AccountName, string(r.Action), string(r.State), timeArg(r.DueAt), timeArg(r.CreatedAt),
			timeArg(r.UpdatedAt), timeArg(r.FinishedAt), r.Attempts, r.LastError, r.Result, r.CancelReason, r.Queued,
			before, r.UndoOf)
		if isUnique(err) {
			return fmt.Errorf("%s of %s in %s for %s: already active: %w", r.Action, r.AccountID, r.ApplicationID,
				r.IdentityID, store.ErrConflict)
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
	action, state, due_at, created_at, updated_at, finished_at, attempts, last_error, result, cancel_reason, queued,
	before_account, undo_of`

func scanRevocation(sc interface{ Scan(...any) error }) (store.Revocation, error) {
	var r store.Revocation
	var action, state string
	var due, created, updated, finished, before sql.NullString
	if err := sc.Scan(&r.ID, &r.RunID, &r.RuleID, &r.IdentityID, &r.UserName, &r.ApplicationID, &r.AccountID,
		&r.AccountName, &action, &state, &due, &created, &updated, &finished, &r.Attempts, &r.LastError, &r.Result,
		&r.CancelReason, &r.Queued, &before, &r.UndoOf); err != nil {
		return r, err
	}
	if before.Valid {
		r.Before = new(account.Account)
		if err := json.Unmarshal([]byte(before.String), r.Before); err != nil {
			return r, fmt.Errorf("revocation %d: before: %w", r.ID, err)
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
		list, stateArgs := in(stateStrings(q.States))
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
	query += " ORDER BY id"
	if q.Limit > 0 {
		query, args = query+" LIMIT ?", append(args, q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		r, err := scanRevocation(rows)
		if err != nil {
			return nil, fmt.Errorf("list revocations: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

func stateStrings(states []store.RevocationState) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
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
		if !slices.Contains(from, r.State) {
			return fmt.Errorf("revocation %d is %s, not %s: %w", id, r.State, joinStates(from), store.ErrConflict)
		}
		sets := []string{"updated_at = ?"}
		args := []any{timeArg(s.clock())}
		set := func(col string, v any) {
			sets, args = append(sets, col+" = ?"), append(args, v)
		}
		if u.State != "" {
			set("state", string(u.State))
		}
		if u.DueAt != nil {
			set("due_at", timeArg(*u.DueAt))
		}
		if u.Attempts != nil {
			set("attempts", *u.Attempts)
		}
		if u.LastError != nil {
			set("last_error", *u.LastError)
		}
		if u.Result != nil {
			set("result", *u.Result)
		}
		if u.CancelReason != nil {
			set("cancel_reason", *u.CancelReason)
		}
		if u.FinishedAt != nil {
			set("finished_at", timeArg(*u.FinishedAt))
		}
		if u.Before != nil {
			before, err := accountJSON(keptAccount(u.Before))
			if err != nil {
				return fmt.Errorf("before: %w", err)
			}
			set("before_account", before)
		}
		if u.Unqueue {
			set("queued", 0)
		}
		_, err = tx.ExecContext(ctx, `UPDATE revocations SET `+strings.Join(sets, ", ")+` WHERE id = ?`,
			append(args, id)...)
		if isUnique(err) {
			return fmt.Errorf("revocation %d: the same revocation is already active: %w", id, store.ErrConflict)
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
		ev.RevocationID = cmp.Or(ev.RevocationID, id)
		ev.RunID = cmp.Or(ev.RunID, r.RunID)
		ev.RuleID = cmp.Or(ev.RuleID, r.RuleID)
		ev.IdentityID = cmp.Or(ev.IdentityID, r.IdentityID)
		ev.ApplicationID = cmp.Or(ev.ApplicationID, r.ApplicationID)
		if err := s.appendEvents(ctx, tx, ev); err != nil {
			return err
		}
		out, err = readRevocation(ctx, tx, id)
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
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
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

// keptAccount is a copy of a as the store keeps it (its time in UTC at
// microseconds), or nil.
func keptAccount(a *account.Account) *account.Account {
	if a == nil {
		return nil
	}
	c := *a
	c.SeenAt = keptTime(c.SeenAt, time.Time{})
	return &c
}

// accountJSON is the stored form of a revocation's Before: NULL for nil.
func accountJSON(a *account.Account) (any, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return string(b), nil
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
