package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

// identityContent is what decides whether a record changed: every field
// but UpdatedAt, the end date as it was given.
type identityContent struct {
	UserName    string            `json:"u"`
	Email       string            `json:"e"`
	DisplayName string            `json:"d"`
	Status      string            `json:"s"`
	EndDate     string            `json:"ed"`
	Department  string            `json:"dep"`
	Manager     string            `json:"m"`
	Attributes  map[string]string `json:"a"`
}

// contentHash returns the identity's content hash and its attributes JSON.
func contentHash(id identity.Identity) (hash, attrs string, err error) {
	a, err := attributesJSON(id.Attributes)
	if err != nil {
		return "", "", err
	}
	attrMap := id.Attributes
	if len(attrMap) == 0 {
		attrMap = nil
	}
	b, err := json.Marshal(identityContent{
		UserName: id.UserName, Email: id.Email, DisplayName: id.DisplayName, Status: id.Status,
		EndDate: id.EndDate.String(), Department: id.Department, Manager: id.Manager, Attributes: attrMap,
	})
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), a, nil
}

func attributesJSON(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func parseAttributes(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	return m, nil
}

// fold is how userName, status and the search text are kept for
// case-insensitive matching: folded in Go, because PostgreSQL's lower()
// depends on the database's locale (ASCII only under C).
func fold(s string) string { return strings.ToLower(s) }

// searchText is what IdentityQuery.Search looks in.
func searchText(id identity.Identity) string {
	return fold(id.UserName + "\n" + id.Email + "\n" + id.DisplayName)
}

// syncBatch is how many identities one round trip reads or writes.
const syncBatch = 1000

// stored is what SyncIdentities compares a delivered identity with.
type stored struct{ hash, status, endDate string }

// SyncIdentities upserts a source's identities; those not in ids stay as
// they are. Syncs of one source take turns (an advisory lock per source),
// so that two nodes syncing it at once count and write consistently.
func (s *Store) SyncIdentities(ctx context.Context, sourceID string, ids []identity.Identity, ev audit.Event) (store.SyncResult, error) {
	var res store.SyncResult
	err := s.write(ctx, "sync identities of "+sourceID, func(tx pgx.Tx) error {
		res = store.SyncResult{}
		if err := lockKey(ctx, tx, "identities:"+sourceID); err != nil {
			return err
		}
		now := s.clock()
		// cur is what is stored as this call goes, so that an identity
		// delivered twice compares with its first delivery.
		cur := map[string]stored{}
		for start := 0; start < len(ids); start += syncBatch {
			chunk := ids[start:min(start+syncBatch, len(ids))]
			var keys []string
			for i := range chunk {
				id := &chunk[i]
				if id.SourceID != "" && id.SourceID != sourceID {
					return fmt.Errorf("identity %s: belongs to source %q", id.ID(), id.SourceID)
				}
				if id.ExternalID == "" {
					return fmt.Errorf("identity of user %q: empty external id", id.UserName)
				}
				if key := identity.Key(sourceID, id.ExternalID); !hasKey(cur, key) {
					keys = append(keys, key)
				}
			}
			rows, err := tx.Query(ctx, `SELECT key, hash, status, end_date FROM identities WHERE key = ANY($1)`, keys)
			if err != nil {
				return err
			}
			for rows.Next() {
				var key string
				var st stored
				if err := rows.Scan(&key, &st.hash, &st.status, &st.endDate); err != nil {
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
			for _, id := range chunk {
				id.SourceID = sourceID
				key := id.ID()
				hash, attrs, err := contentHash(id)
				if err != nil {
					return fmt.Errorf("identity %s: %w", key, err)
				}
				endDate := id.EndDate.String()
				old, exists := cur[key]
				switch {
				case !exists:
					b.Queue(`INSERT INTO identities (key, source_id, external_id, user_name, email, display_name, status,
						end_date, department, manager, attributes, search, user_name_fold, status_fold, hash, created_at,
						updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$16)`,
						key, id.SourceID, id.ExternalID, id.UserName, id.Email, id.DisplayName, id.Status, endDate,
						id.Department, id.Manager, attrs, searchText(id), fold(id.UserName), fold(id.Status), hash, now)
					res.Created++
					res.Changed = append(res.Changed, key)
				case old.hash == hash:
					res.Unchanged++
				default:
					b.Queue(`UPDATE identities SET user_name = $1, email = $2, display_name = $3, status = $4,
						end_date = $5, department = $6, manager = $7, attributes = $8, search = $9,
						user_name_fold = $10, status_fold = $11, hash = $12, updated_at = $13 WHERE key = $14`,
						id.UserName, id.Email, id.DisplayName, id.Status, endDate, id.Department, id.Manager, attrs,
						searchText(id), fold(id.UserName), fold(id.Status), hash, now, key)
					res.Updated++
					res.Changed = append(res.Changed, key)
					if !strings.EqualFold(old.status, id.Status) || old.endDate != endDate {
						res.StatusChanged++
					}
				}
				cur[key] = stored{hash: hash, status: id.Status, endDate: endDate}
			}
			if b.Len() > 0 {
				if err := tx.SendBatch(ctx, &b).Close(); err != nil {
					return err
				}
			}
		}
		return s.appendEvents(ctx, tx, withDetail(ev, map[string]any{
			"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged,
			"statusChanged": res.StatusChanged,
		}))
	})
	if err != nil {
		return store.SyncResult{}, err
	}
	return res, nil
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
	var err error
	if id.EndDate, err = identity.ParseEndDate(endDate); err != nil {
		return id, fmt.Errorf("identity %s: end date: %w", key, err)
	}
	if id.Attributes, err = parseAttributes(attrs); err != nil {
		return id, fmt.Errorf("identity %s: %w", key, err)
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
		w.add("user_name_fold = ?", fold(q.UserName))
	}
	if q.ExternalID != "" {
		w.add("external_id = ?", q.ExternalID)
	}
	if q.Search != "" {
		w.add("strpos(search, ?) > 0", fold(q.Search))
	}
	if q.HideStatus != "" {
		w.add("status_fold <> ?", fold(q.HideStatus))
	}
	return w
}

// ListIdentities pages identities in key order.
func (s *Store) ListIdentities(ctx context.Context, q store.IdentityQuery) ([]identity.Identity, error) {
	w := identityWhere(q)
	if q.After != "" {
		w.add("key > ?", q.After)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT ` + identityColumns + ` FROM identities` + w.sql() + ` ORDER BY key LIMIT ` + w.arg(limit) +
		` OFFSET ` + w.arg(max(q.Offset, 0))
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
