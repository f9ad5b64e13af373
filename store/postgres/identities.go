package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// syncBatch is how many identities one round trip reads or writes.
const syncBatch = 1000

// SyncIdentities upserts a source's identities; those not in ids stay as
// they are. Syncs of one source take turns (an advisory lock per source),
// so that two nodes syncing it at once count and write consistently.
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
	err := s.write(ctx, "sync identities of "+sourceID, func(tx pgx.Tx) error {
		res = store.SyncResult{}
		// Writers of one source take turns, on every node: a userName
		// checked free below stays free until this commits.
		if err := lockKey(ctx, tx, "identities:"+sourceID); err != nil {
			return err
		}
		if uniqueName {
			for _, id := range ids {
				holder, err := scanIdentity(tx.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities
					WHERE source_id = $1 AND user_name_fold = $2 AND key <> $3 LIMIT 1`,
					sourceID, records.Fold(id.UserName), identity.Key(sourceID, id.ExternalID)))
				if err == nil {
					return &store.UserNameTakenError{Holder: holder}
				}
				if !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
		}
		now := s.clock()
		// cur is what is stored as this call goes, so that an identity
		// delivered twice compares with its first delivery.
		cur := map[string]records.StoredIdentity{}
		for start := 0; start < len(ids); start += syncBatch {
			chunk := make([]records.IdentityRow, 0, min(syncBatch, len(ids)-start))
			var keys []string
			for _, id := range ids[start:min(start+syncBatch, len(ids))] {
				row, err := records.NewIdentityRow(sourceID, id)
				if err != nil {
					return err
				}
				chunk = append(chunk, row)
				if !hasKey(cur, row.Key) {
					keys = append(keys, row.Key)
				}
			}
			rows, err := tx.Query(ctx, `SELECT key, hash, status, end_date FROM identities WHERE key = ANY($1)`, keys)
			if err != nil {
				return err
			}
			for rows.Next() {
				var key string
				var st records.StoredIdentity
				if err := rows.Scan(&key, &st.Hash, &st.Status, &st.EndDate); err != nil {
					rows.Close()
					return err
				}
				cur[key] = st
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			var b pgx.Batch
			for _, row := range chunk {
				old, found := cur[row.Key]
				switch records.Tally(&res, row, old, found) {
				case records.Insert:
					b.Queue(`INSERT INTO identities (key, source_id, external_id, user_name, email, display_name, status,
						end_date, department, manager, attributes, search, user_name_fold, status_fold, hash, created_at,
						updated_at, pending_since) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16,$16)`,
						row.Key, row.SourceID, row.ExternalID, row.UserName, row.Email, row.DisplayName, row.Status, row.End,
						row.Department, row.Manager, row.Attrs, row.Search, row.UserNameFold, row.StatusFold, row.Hash, now)
				case records.Update:
					b.Queue(`UPDATE identities SET user_name = $1, email = $2, display_name = $3, status = $4,
						end_date = $5, department = $6, manager = $7, attributes = $8, search = $9,
						user_name_fold = $10, status_fold = $11, hash = $12, updated_at = $13, pending_since = $13 WHERE key = $14`,
						row.UserName, row.Email, row.DisplayName, row.Status, row.End, row.Department, row.Manager, row.Attrs,
						row.Search, row.UserNameFold, row.StatusFold, row.Hash, now, row.Key)
				}
				cur[row.Key] = row.Stored()
			}
			if b.Len() > 0 {
				if err := tx.SendBatch(ctx, &b).Close(); err != nil {
					return err
				}
			}
		}
		if len(res.Changed) > 0 {
			res.MarkedAt = now
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
	out, err := collect(ctx, s.pool, func(sc scanner) (store.PendingIdentity, error) {
		var p store.PendingIdentity
		err := sc.Scan(&p.Key, &p.SourceID, &p.Since)
		p.Since = p.Since.UTC()
		return p, err
	}, `SELECT key, source_id, pending_since FROM identities WHERE pending_since IS NOT NULL AND pending_since <= $1
		ORDER BY pending_since, key LIMIT $2`, timeArg(before), limit)
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
	var w where
	w.add("source_id = ?", sourceID)
	w.add("pending_since = ?", timeArg(at))
	if keys != nil {
		w.add("key = ANY(?)", keys)
	}
	return s.write(ctx, "clear pending identities of "+sourceID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE identities SET pending_since = NULL`+w.sql(), w.args...)
		return err
	})
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

const identityColumns = `key, source_id, external_id, user_name, email, display_name, status, end_date,
	department, manager, attributes, updated_at`

func scanIdentity(sc scanner) (identity.Identity, error) {
	var id identity.Identity
	var key, endDate, attrs string
	var updated time.Time
	if err := sc.Scan(&key, &id.SourceID, &id.ExternalID, &id.UserName, &id.Email, &id.DisplayName, &id.Status,
		&endDate, &id.Department, &id.Manager, &attrs, &updated); err != nil {
		return id, err
	}
	if err := records.DecodeIdentity(&id, key, endDate, attrs); err != nil {
		return id, err
	}
	id.UpdatedAt = updated.UTC()
	return id, nil
}

// Identity returns one identity by key.
func (s *Store) Identity(ctx context.Context, key string) (identity.Identity, error) {
	id, err := scanIdentity(s.pool.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return identity.Identity{}, fmt.Errorf("identity %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return identity.Identity{}, fmt.Errorf("read identity %s: %w", key, err)
	}
	return id, nil
}

func identityWhere(q store.IdentityQuery) *where {
	w := &where{}
	if q.SourceID != "" {
		w.add("source_id = ?", q.SourceID)
	}
	if q.UserName != "" {
		w.add("user_name_fold = ?", records.Fold(q.UserName))
	}
	if q.ExternalID != "" {
		w.add("external_id = ?", q.ExternalID)
	}
	if q.Search != "" {
		w.add("strpos(search, ?) > 0", records.Fold(q.Search))
	}
	if q.HideStatus != "" {
		w.add("status_fold <> ?", records.Fold(q.HideStatus))
	}
	return w
}

// ListIdentities pages identities in key order.
func (s *Store) ListIdentities(ctx context.Context, q store.IdentityQuery) ([]identity.Identity, error) {
	w := identityWhere(q)
	if q.After != "" {
		w.add("key > ?", q.After)
	}
	limit, offset := records.IdentityPage(q)
	query := `SELECT ` + identityColumns + ` FROM identities` + w.sql() + ` ORDER BY key LIMIT ` + w.arg(limit) +
		` OFFSET ` + w.arg(offset)
	out, err := collect(ctx, s.pool, scanIdentity, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	return out, nil
}

// CountIdentities counts identities matching q, ignoring Limit, After and
// Offset (what SCIM's totalResults needs).
func (s *Store) CountIdentities(ctx context.Context, q store.IdentityQuery) (int, error) {
	w := identityWhere(q)
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM identities`+w.sql(), w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count identities: %w", err)
	}
	return n, nil
}
