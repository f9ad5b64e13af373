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

// CreateToken stores an API token's hash and appends ev, with the token's
// id added to its Detail. A zero CreatedAt is the store's clock; a hash
// already stored is ErrConflict.
func (s *Store) CreateToken(ctx context.Context, t *store.Token, ev audit.Event) error {
	tok, err := records.NewToken(t, s.clock())
	if err != nil {
		return err
	}
	err = s.write(ctx, fmt.Sprintf("create token %q", tok.Name), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tokens (name, role, hash, created_at, created_by, last_used, revoked_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id`, tok.Name, string(tok.Role), tok.Hash, tok.CreatedAt,
			tok.CreatedBy, timeArg(tok.LastUsed), timeArg(tok.RevokedAt)).Scan(&tok.ID)
		if isUnique(err) {
			return records.ErrTokenExists
		}
		if err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, records.TokenEvent(ev, tok.ID))
	})
	if err != nil {
		return err
	}
	*t = tok
	return nil
}

const tokenColumns = `id, name, role, hash, created_at, created_by, last_used, revoked_at`

func scanToken(sc scanner) (store.Token, error) {
	var t store.Token
	var role string
	var created time.Time
	var used, revoked *time.Time
	if err := sc.Scan(&t.ID, &t.Name, &role, &t.Hash, &created, &t.CreatedBy, &used, &revoked); err != nil {
		return t, err
	}
	t.Role = store.Role(role)
	t.CreatedAt, t.LastUsed, t.RevokedAt = created.UTC(), timeOf(used), timeOf(revoked)
	return t, nil
}

// TokenByHash finds an unrevoked token by the SHA-256 hex of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("read token: %w", err)
	}
	return t, nil
}

// ListTokens returns every token, revoked ones included, by id.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	out, err := collect(ctx, s.pool, scanToken, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked at the store's clock and appends ev.
// Revoking a revoked token is ErrConflict and changes nothing: the first
// revocation's time stands and no second event is written.
func (s *Store) RevokeToken(ctx context.Context, id int64, ev audit.Event) error {
	return s.write(ctx, fmt.Sprintf("revoke token %d", id), func(tx pgx.Tx) error {
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT revoked_at FROM tokens WHERE id = $1 FOR UPDATE`, id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("token %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked != nil {
			return fmt.Errorf("token %d is already revoked: %w", id, store.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2`, s.clock(), id); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, ev)
	})
}

// TouchToken records that a token was used at at (the store's clock when
// zero). The recorded time never moves back, so that nodes reporting out
// of order keep the latest use.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE tokens SET last_used = greatest(last_used, $1) WHERE id = $2`,
		records.KeptTime(at, s.clock()), id)
	if err != nil {
		return fmt.Errorf("touch token %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("token %d: %w", id, store.ErrNotFound)
	}
	return nil
}
