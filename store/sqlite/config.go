package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
)

// ApplyConfig replaces the whole configuration, bumps its version and
// appends ev.
func (s *Store) ApplyConfig(ctx context.Context, cfg config.Config, ev audit.Event) error {
	return s.write(ctx, "apply config", func(tx *sql.Tx) error {
		for _, table := range []string{"config_applications", "config_sources", "config_rules"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
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
		defaults := ""
		if cfg.Defaults != nil {
			b, err := json.Marshal(cfg.Defaults)
			if err != nil {
				return err
			}
			defaults = string(b)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE config_version SET version = version + 1, defaults = ? WHERE id = 1`, defaults); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, ev)
	})
}

func insertConfigItem(ctx context.Context, tx *sql.Tx, table string, pos int, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO "+table+" (position, id, body) VALUES (?, ?, ?)", pos, id, string(b))
	if isUnique(err) {
		return fmt.Errorf("duplicate id: %w", err)
	}
	return err
}

// Config returns the configuration in the order it was applied, and its version.
func (s *Store) Config(ctx context.Context) (config.Config, int64, error) {
	var cfg config.Config
	var version int64
	err := s.read(ctx, "read config", func(tx *sql.Tx) error {
		var defaults string
		if err := tx.QueryRowContext(ctx, `SELECT version, defaults FROM config_version WHERE id = 1`).Scan(&version, &defaults); err != nil {
			return err
		}
		if defaults != "" {
			cfg.Defaults = &config.Defaults{}
			if err := json.Unmarshal([]byte(defaults), cfg.Defaults); err != nil {
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

func readConfigItems[T any](ctx context.Context, tx *sql.Tx, table string) ([]T, error) {
	rows, err := tx.QueryContext(ctx, "SELECT id, body FROM "+table+" ORDER BY position")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return nil, fmt.Errorf("%s %q: %w", table, id, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
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
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read config version: %w", err)
	}
	return v, nil
}
