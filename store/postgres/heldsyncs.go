package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
	"github.com/deprov/deprov/store/internal/records"
)

// HoldSync keeps a delivery the feed guard stopped and appends ev, with the
// held delivery's id added to its Detail (the caller cannot know it). A
// zero State is pending, a zero CreatedAt the store's clock and a zero Rows
// the number of identities.
func (s *Store) HoldSync(ctx context.Context, h *store.HeldSync, ev audit.Event) error {
	held, ids, err := records.NewHeldSync(h, s.clock())
	if err != nil {
		return err
	}
	err = s.write(ctx, "hold sync of "+held.SourceID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO held_syncs (source_id, state, reason, created_at, resolved_at,
			resolved_by, row_count, identities) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id`, held.SourceID,
			string(held.State), held.Reason, held.CreatedAt, timeArg(held.ResolvedAt), held.ResolvedBy, held.Rows,
			ids).Scan(&held.ID); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, records.HeldSyncEvent(ev, held.ID))
	})
	if err != nil {
		return err
	}
	*h = held
	return nil
}

const heldSyncColumns = `id, source_id, state, reason, created_at, resolved_at, resolved_by, row_count`

func scanHeldSync(sc scanner, extra ...any) (store.HeldSync, error) {
	var h store.HeldSync
	var state string
	var created time.Time
	var resolved *time.Time
	if err := sc.Scan(append([]any{&h.ID, &h.SourceID, &state, &h.Reason, &created, &resolved, &h.ResolvedBy,
		&h.Rows}, extra...)...); err != nil {
		return h, err
	}
	h.State = store.HeldSyncState(state)
	h.CreatedAt, h.ResolvedAt = created.UTC(), timeOf(resolved)
	return h, nil
}

// readHeldSync reads a held delivery with its identities; lock is "" or
// " FOR UPDATE".
func readHeldSync(ctx context.Context, q db, id int64, lock string) (store.HeldSync, error) {
	var ids string
	h, err := scanHeldSync(q.QueryRow(ctx, `SELECT `+heldSyncColumns+`, identities FROM held_syncs WHERE id = $1`+lock, id), &ids)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.HeldSync{}, fmt.Errorf("held sync %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.HeldSync{}, fmt.Errorf("read held sync %d: %w", id, err)
	}
	if err := records.DecodeHeldIdentities(&h, ids); err != nil {
		return store.HeldSync{}, fmt.Errorf("read held sync %d: %w", id, err)
	}
	return h, nil
}

// HeldSync returns a held delivery with its identities.
func (s *Store) HeldSync(ctx context.Context, id int64) (store.HeldSync, error) {
	return readHeldSync(ctx, s.pool, id, "")
}

// ListHeldSyncs returns held deliveries newest first, without identities;
// a zero Limit does not limit.
func (s *Store) ListHeldSyncs(ctx context.Context, q store.HeldSyncQuery) ([]store.HeldSync, error) {
	var w where
	if q.SourceID != "" {
		w.add("source_id = ?", q.SourceID)
	}
	if q.State != "" {
		w.add("state = ?", string(q.State))
	}
	query := `SELECT ` + heldSyncColumns + ` FROM held_syncs` + w.sql() + " ORDER BY id DESC"
	if q.Limit > 0 {
		query += " LIMIT " + w.arg(q.Limit)
	}
	out, err := collect(ctx, s.pool, func(sc scanner) (store.HeldSync, error) { return scanHeldSync(sc) }, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list held syncs: %w", err)
	}
	return out, nil
}

// ResolveHeldSync moves a held delivery from pending to approved or
// rejected, records by whom and when (the store's clock), appends ev and
// returns the delivery with its identities, for the caller to apply.
func (s *Store) ResolveHeldSync(ctx context.Context, id int64, to store.HeldSyncState, by string, ev audit.Event) (store.HeldSync, error) {
	if err := records.CheckResolveTo(id, to); err != nil {
		return store.HeldSync{}, err
	}
	var out store.HeldSync
	err := s.write(ctx, fmt.Sprintf("resolve held sync %d", id), func(tx pgx.Tx) error {
		h, err := readHeldSync(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			return err
		}
		if err := records.ResolveHeld(&h, to, by, s.clock()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE held_syncs SET state = $1, resolved_at = $2, resolved_by = $3 WHERE id = $4`,
			string(h.State), h.ResolvedAt, h.ResolvedBy, id); err != nil {
			return err
		}
		out = h
		return s.appendEvents(ctx, tx, ev)
	})
	if err != nil {
		return store.HeldSync{}, err
	}
	return out, nil
}
