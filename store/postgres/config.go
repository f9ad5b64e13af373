package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
)

// ApplyConfig replaces the whole configuration, bumps its version and
// appends ev.
func (s *Store) ApplyConfig(ctx context.Context, cfg config.Config, ev audit.Event) error {
	return s.write(ctx, "apply config", func(tx pgx.Tx) error {
		var defaults any
		if cfg.Defaults != nil {
			b, err := json.Marshal(cfg.Defaults)
			if err != nil {
				return fmt.Errorf("defaults: %w", err)
			}
			defaults = string(b)
		}
		// The version row first: it makes concurrent applies take turns.
		if _, err := tx.Exec(ctx, `UPDATE config_version SET version = version + 1, defaults = $1 WHERE id = 1`,
			defaults); err != nil {
			return err
		}
		for _, table := range []string{"config_applications", "config_sources", "config_rules"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		for i, a := range cfg.Applications {
			if err := insertConfigItem(ctx, tx, "config_applications", i, a.ID, a); err != nil {
				return fmt.Errorf("application %q: %w", a.ID, err)
			}
		}
		for i, src := range cfg.Sources {
			if err := insertConfigItem(ctx, tx, "config_sources", i, src.ID, src); err != nil {
				return fmt.Errorf("source %q: %w", src.ID, err)
			}
		}
		for i, r := range cfg.Rules {
			if err := insertConfigItem(ctx, tx, "config_rules", i, r.ID, r); err != nil {
				return fmt.Errorf("rule %q: %w", r.ID, err)
			}
		}
		return s.appendEvents(ctx, tx, ev)
	})
}

func insertConfigItem(ctx context.Context, tx pgx.Tx, table string, pos int, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+table+" (position, id, body) VALUES ($1, $2, $3)", pos, id, string(b))
	if isUnique(err) {
		return fmt.Errorf("duplicate id: %w", err)
	}
	return err
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
		if defaults != nil {
			cfg.Defaults = &config.Defaults{}
			if err := json.Unmarshal([]byte(*defaults), cfg.Defaults); err != nil {
				return fmt.Errorf("defaults: %w", err)
			}
		}
		var err error
		if cfg.Applications, err = readConfigItems[config.Application](ctx, tx, "config_applications"); err != nil {
			return err
		}
		for i := range cfg.Applications {
			restoreInts(cfg.Applications[i].Connector.Settings)
		}
		if cfg.Sources, err = readConfigItems[config.Source](ctx, tx, "config_sources"); err != nil {
			return err
		}
		cfg.Rules, err = readConfigItems[config.Rule](ctx, tx, "config_rules")
		return err
	})
	if err != nil {
		return config.Config{}, 0, err
	}
	return cfg, version, nil
}

func readConfigItems[T any](ctx context.Context, tx pgx.Tx, table string) ([]T, error) {
	return collect(ctx, tx, func(sc scanner) (T, error) {
		var v T
		var id, body string
		if err := sc.Scan(&id, &body); err != nil {
			return v, err
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return v, fmt.Errorf("%s %q: %w", table, id, err)
		}
		return v, nil
	}, "SELECT id, body FROM "+table+" ORDER BY position")
}

// restoreInts turns the whole numbers JSON decoded as float64 back into
// int, as YAML decodes them, so that connector settings read back equal
// the applied ones (port: 389 stays an int).
func restoreInts(m map[string]any) {
	for k, v := range m {
		m[k] = restoreInt(v)
	}
}

func restoreInt(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int(x)
		}
	case map[string]any:
		restoreInts(x)
	case []any:
		for i := range x {
			x[i] = restoreInt(x[i])
		}
	}
	return v
}

// ConfigVersion reads the configuration version.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read config version: %w", err)
	}
	return v, nil
}
