package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// SyncIdentities upserts a source's identities; those not in ids stay as they are.
func (s *Store) SyncIdentities(ctx context.Context, sourceID string, ids []identity.Identity, ev audit.Event) (store.SyncResult, error) {
	return s.syncIdentities(ctx, sourceID, ids, ev, false)
}

// PushIdentity upserts one identity whose userName must be the source's
// only one.
func (s *Store) PushIdentity(ctx context.Context, sourceID string, id identity.Identity, ev audit.Event) (store.SyncResult, error) {
	return s.syncIdentities(ctx, sourceID, []identity.Identity{id}, ev, true)
}

func (s *Store) syncIdentities(ctx context.Context, sourceID string, ids []identity.Identity, ev audit.Event, uniqueName bool) (store.SyncResult, error) {
	var res store.SyncResult
	what := "sync identities of " + sourceID
	err := s.write(ctx, what, func(tx *sql.Tx) error {
		res = store.SyncResult{}
		if uniqueName {
			// SQLite has one writer at a time: what this reads stays true
			// until the transaction commits.
			for _, id := range ids {
				holder, err := scanIdentity(tx.QueryRowContext(ctx, `SELECT `+identityColumns+` FROM identities
					WHERE source_id = ? AND user_name_fold = ? AND key <> ? LIMIT 1`,
					sourceID, records.Fold(id.UserName), identity.Key(sourceID, id.ExternalID)))
				if err == nil {
					return &store.UserNameTakenError{Holder: holder}
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
		}
		marked := s.clock()
		now := timeArg(marked)
		get, err := tx.PrepareContext(ctx, `SELECT hash, status, end_date FROM identities WHERE key = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO identities (key, source_id, external_id, user_name, email,
			display_name, status, end_date, department, manager, attributes, search, hash, created_at, updated_at,
			user_name_fold, status_fold, pending_since) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE identities SET user_name = ?, email = ?, display_name = ?,
			status = ?, end_date = ?, department = ?, manager = ?, attributes = ?, search = ?, hash = ?,
			updated_at = ?, user_name_fold = ?, status_fold = ?, pending_since = ? WHERE key = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()

		for _, id := range ids {
			row, err := records.NewIdentityRow(sourceID, id)
			if err != nil {
				return err
			}
			var old records.StoredIdentity
			err = get.QueryRowContext(ctx, row.Key).Scan(&old.Hash, &old.Status, &old.EndDate)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("identity %s: %w", row.Key, err)
			}
			// err is nil or ErrNoRows; the insert or update replaces it.
			switch records.Tally(&res, row, old, err == nil) {
			case records.Insert:
				_, err = ins.ExecContext(ctx, row.Key, row.SourceID, row.ExternalID, row.UserName, row.Email,
					row.DisplayName, row.Status, row.End, row.Department, row.Manager, row.Attrs, row.Search, row.Hash,
					now, now, row.UserNameFold, row.StatusFold, now)
			case records.Update:
				_, err = upd.ExecContext(ctx, row.UserName, row.Email, row.DisplayName, row.Status, row.End,
					row.Department, row.Manager, row.Attrs, row.Search, row.Hash, now, row.UserNameFold, row.StatusFold,
					now, row.Key)
			}
			if err != nil {
				return fmt.Errorf("identity %s: %w", row.Key, err)
			}
		}
		if len(res.Changed) > 0 {
			res.MarkedAt = marked
		}
		return s.appendEvents(ctx, tx, records.WithSyncCounts(ev, res))
	})
	if err != nil {
		return store.SyncResult{}, err
	}
	return res, nil
}

// PendingIdentities returns identities marked pending at or before
// `before`, oldest mark first.
func (s *Store) PendingIdentities(ctx context.Context, before time.Time, limit int) ([]store.PendingIdentity, error) {
	out, err := collect(ctx, s.db, func(sc records.Scanner) (store.PendingIdentity, error) {
		var p store.PendingIdentity
		var since sql.NullString
		if err := sc.Scan(&p.Key, &p.SourceID, &since); err != nil {
			return p, err
		}
		var err error
		p.Since, err = parseTime(since)
		return p, err
	}, `SELECT key, source_id, pending_since FROM identities WHERE pending_since IS NOT NULL AND pending_since <= ?
		ORDER BY pending_since, key LIMIT ?`, timeArg(before), limit)
	if err != nil {
		return nil, fmt.Errorf("pending identities: %w", err)
	}
	return out, nil
}

// ClearPending clears the marks of a source's identities set at `at`: of
// keys, or of all of them when keys is nil.
func (s *Store) ClearPending(ctx context.Context, sourceID string, keys []string, at time.Time) error {
	if keys != nil && len(keys) == 0 {
		return nil
	}
	query, args := `UPDATE identities SET pending_since = NULL WHERE source_id = ? AND pending_since = ?`, []any{sourceID, timeArg(at)}
	if keys != nil {
		list, keyArgs := in(keys)
		query, args = query+` AND key IN `+list, append(args, keyArgs...)
	}
	return s.write(ctx, "clear pending identities of "+sourceID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}

const identityColumns = `key, source_id, external_id, user_name, email, display_name, status, end_date,
	department, manager, attributes, updated_at`

func scanIdentity(sc records.Scanner) (identity.Identity, error) {
	var id identity.Identity
	var key, endDate, attrs string
	var updated sql.NullString
	if err := sc.Scan(&key, &id.SourceID, &id.ExternalID, &id.UserName, &id.Email, &id.DisplayName, &id.Status,
		&endDate, &id.Department, &id.Manager, &attrs, &updated); err != nil {
		return id, err
	}
	if err := records.DecodeIdentity(&id, key, endDate, attrs); err != nil {
		return id, err
	}
	var err error
	if id.UpdatedAt, err = parseTime(updated); err != nil {
		return id, fmt.Errorf("identity %s: %w", key, err)
	}
	return id, nil
}

// Identity returns one identity by key.
func (s *Store) Identity(ctx context.Context, key string) (identity.Identity, error) {
	id, err := scanIdentity(s.db.QueryRowContext(ctx, `SELECT `+identityColumns+` FROM identities WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return identity.Identity{}, fmt.Errorf("identity %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return identity.Identity{}, fmt.Errorf("read identity %s: %w", key, err)
	}
	return id, nil
}

func identityWhere(q store.IdentityQuery) (string, []any) {
	var where []string
	var args []any
	if q.SourceID != "" {
		where, args = append(where, "source_id = ?"), append(args, q.SourceID)
	}
	if q.UserName != "" {
		where, args = append(where, "user_name_fold = ?"), append(args, records.Fold(q.UserName))
	}
	if q.ExternalID != "" {
		where, args = append(where, "external_id = ?"), append(args, q.ExternalID)
	}
	if q.Search != "" {
		where, args = append(where, "instr(search, ?) > 0"), append(args, records.Fold(q.Search))
	}
	if q.HideStatus != "" {
		where, args = append(where, "status_fold <> ?"), append(args, records.Fold(q.HideStatus))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// ListIdentities pages identities in key order.
func (s *Store) ListIdentities(ctx context.Context, q store.IdentityQuery) ([]identity.Identity, error) {
	where, args := identityWhere(q)
	if q.After != "" {
		if where == "" {
			where = " WHERE key > ?"
		} else {
			where += " AND key > ?"
		}
		args = append(args, q.After)
	}
	limit, offset := records.IdentityPage(q)
	out, err := collect(ctx, s.db, scanIdentity, `SELECT `+identityColumns+` FROM identities`+where+` ORDER BY key LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	return out, nil
}

// CountIdentities counts identities matching q, ignoring Limit, After and
// Offset (what SCIM's totalResults needs).
func (s *Store) CountIdentities(ctx context.Context, q store.IdentityQuery) (int, error) {
	where, args := identityWhere(q)
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM identities`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count identities: %w", err)
	}
	return n, nil
}
