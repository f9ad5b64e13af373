package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/store/internal/records"
)

// ApplyConfig replaces the whole configuration, bumps its version and
// appends ev.
func (s *Store) ApplyConfig(ctx context.Context, cfg config.Config, base int64, ev audit.Event) error {
	return s.write(ctx, "apply config", func(tx pgx.Tx) error {
		items, err := records.ConfigItems(cfg)
		if err != nil {
			return err
		}
		defaults, err := records.DefaultsJSON(cfg.Defaults)
		if err != nil {
			return err
		}
		// The version row first: it makes concurrent applies take turns,
		// and the second one finds the version moved.
		tag, err := tx.Exec(ctx, `UPDATE config_version SET version = version + 1, defaults = $1
			WHERE id = 1 AND ($2 < 0 OR version = $2)`, records.NullString(defaults), base)
		if err != nil {
			return err
		}
		if err := records.CheckConfigBase(tag.RowsAffected(), nil); err != nil {
			return err
		}
		for _, table := range records.ConfigTables {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		for _, it := range items {
			if _, err := tx.Exec(ctx, "INSERT INTO "+it.Table+" (position, id, body) VALUES ($1, $2, $3)",
				it.Position, it.ID, it.Body); err != nil {
				return it.InsertError(err, isUnique(err))
			}
		}
		return s.appendEvents(ctx, tx, ev)
	})
}

// Config returns the configuration in the order it was applied, and its version.
func (s *Store) Config(ctx context.Context) (config.Config, int64, error) {
	var cfg config.Config
	var version int64
	err := s.read(ctx, "read config", func(tx pgx.Tx) error {
		var defaults *string
		if err := tx.QueryRow(ctx, `SELECT version, defaults FROM config_version WHERE id = 1`).Scan(&version, &defaults); err != nil {
			return err
		}
		stored := "" // none
		if defaults != nil {
			stored = *defaults
		}
		var err error
		cfg, err = records.DecodeConfig(stored, func(table string) ([]records.ConfigRow, error) {
			return collect(ctx, tx, func(sc scanner) (records.ConfigRow, error) {
				var r records.ConfigRow
				return r, sc.Scan(&r.ID, &r.Body)
			}, "SELECT id, body FROM "+table+" ORDER BY position")
		})
		return err
	})
	if err != nil {
		return config.Config{}, 0, err
	}
	return cfg, version, nil
}

// ConfigVersion reads the configuration version.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read config version: %w", err)
	}
	return v, nil
}
