package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/deprov/deprov/store"
)

// Setting reads a server setting; ErrNotFound when unset.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

// PutSettingIfAbsent stores value under key unless a value is stored, and
// returns the stored value: the first writer's, whichever node that was.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := s.write(ctx, "put setting "+key, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	})
	if err != nil {
		return "", err
	}
	return v, nil
}
