package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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

// searchText is what IdentityQuery.Search looks in, folded once at write
// time because SQLite's own case folding is ASCII only.
func searchText(id identity.Identity) string {
	return strings.ToLower(id.UserName + "\n" + id.Email + "\n" + id.DisplayName)
}

// fold is how userName and status are kept for case-insensitive lookups.
func fold(s string) string { return strings.ToLower(s) }

// SyncIdentities upserts a source's identities; those not in ids stay as they are.
func (s *Store) SyncIdentities(ctx context.Context, sourceID string, ids []identity.Identity, ev audit.Event) (store.SyncResult, error) {
	var res store.SyncResult
	what := "sync identities of " + sourceID
	err := s.write(ctx, what, func(tx *sql.Tx) error {
		res = store.SyncResult{}
		now := timeArg(s.clock())
		get, err := tx.PrepareContext(ctx, `SELECT hash, status, end_date FROM identities WHERE key = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO identities (key, source_id, external_id, user_name, email,
			display_name, status, end_date, department, manager, attributes, search, hash, created_at, updated_at,
			user_name_fold, status_fold) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE identities SET user_name = ?, email = ?, display_name = ?,
			status = ?, end_date = ?, department = ?, manager = ?, attributes = ?, search = ?, hash = ?,
			updated_at = ?, user_name_fold = ?, status_fold = ? WHERE key = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()

		for _, id := range ids {
			switch {
			case id.SourceID == "":
				id.SourceID = sourceID
			case id.SourceID != sourceID:
				return fmt.Errorf("identity %s: belongs to source %q", id.ID(), id.SourceID)
			}
			if id.ExternalID == "" {
				return fmt.Errorf("identity of user %q: empty external id", id.UserName)
			}
			key := id.ID()
			hash, attrs, err := contentHash(id)
			if err != nil {
				return fmt.Errorf("identity %s: %w", key, err)
			}
			endDate := id.EndDate.String()
			var oldHash, oldStatus, oldEnd string
			err = get.QueryRowContext(ctx, key).Scan(&oldHash, &oldStatus, &oldEnd)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if _, err := ins.ExecContext(ctx, key, id.SourceID, id.ExternalID, id.UserName, id.Email,
					id.DisplayName, id.Status, endDate, id.Department, id.Manager, attrs, searchText(id), hash,
					now, now, fold(id.UserName), fold(id.Status)); err != nil {
					return fmt.Errorf("identity %s: %w", key, err)
				}
				res.Created++
				res.Changed = append(res.Changed, key)
			case err != nil:
				return fmt.Errorf("identity %s: %w", key, err)
			case oldHash == hash:
				res.Unchanged++
			default:
				if _, err := upd.ExecContext(ctx, id.UserName, id.Email, id.DisplayName, id.Status, endDate,
					id.Department, id.Manager, attrs, searchText(id), hash, now, fold(id.UserName), fold(id.Status),
					key); err != nil {
					return fmt.Errorf("identity %s: %w", key, err)
				}
				res.Updated++
				res.Changed = append(res.Changed, key)
				if !strings.EqualFold(oldStatus, id.Status) || oldEnd != endDate {
					res.StatusChanged++
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

const identityColumns = `key, source_id, external_id, user_name, email, display_name, status, end_date,
	department, manager, attributes, updated_at`

func scanIdentity(sc interface{ Scan(...any) error }) (identity.Identity, error) {
	var id identity.Identity
	var key, endDate, attrs string
	var updated sql.NullString
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
		where, args = append(where, "user_name_fold = ?"), append(args, fold(q.UserName))
	}
	if q.ExternalID != "" {
		where, args = append(where, "external_id = ?"), append(args, q.ExternalID)
	}
	if q.Search != "" {
		where, args = append(where, "instr(search, ?) > 0"), append(args, strings.ToLower(q.Search))
	}
	if q.HideStatus != "" {
		where, args = append(where, "status_fold <> ?"), append(args, fold(q.HideStatus))
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
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+identityColumns+` FROM identities`+where+` ORDER BY key LIMIT ? OFFSET ?`,
		append(args, limit, max(q.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	defer rows.Close()
	var out []identity.Identity
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("list identities: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
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
