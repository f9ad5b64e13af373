package records

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/store"
)

// The tables of the configuration's items, each with a position, an id and
// a JSON body.
const (
	ApplicationsTable = "config_applications"
	SourcesTable      = "config_sources"
	RulesTable        = "config_rules"
)

// ConfigTables are the item tables, which ApplyConfig empties.
var ConfigTables = []string{ApplicationsTable, SourcesTable, RulesTable}

// ConfigItem is one application, source or rule as stored.
type ConfigItem struct {
	Table    string
	Position int
	ID       string
	Body     string
	// Name says what it is in errors: application "ldap".
	Name string
}

// InsertError is the error of inserting it that failed with err; duplicate
// says the database refused it for an id already stored, when the
// configuration names two items alike.
func (it ConfigItem) InsertError(err error, duplicate bool) error {
	if duplicate {
		return fmt.Errorf("%s: duplicate id: %w", it.Name, err)
	}
	return fmt.Errorf("%s: %w", it.Name, err)
}

// ConfigItems lists cfg's items as stored, in the order they were given.
func ConfigItems(cfg config.Config) ([]ConfigItem, error) {
	var out []ConfigItem
	add := func(table, kind string, pos int, id string, v any) error {
		it := ConfigItem{Table: table, Position: pos, ID: id, Name: fmt.Sprintf("%s %q", kind, id)}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", it.Name, err)
		}
		it.Body = string(b)
		out = append(out, it)
		return nil
	}
	for i, a := range cfg.Applications {
		if err := add(ApplicationsTable, "application", i, a.ID, a); err != nil {
			return nil, err
		}
	}
	for i, src := range cfg.Sources {
		if err := add(SourcesTable, "source", i, src.ID, src); err != nil {
			return nil, err
		}
	}
	for i, r := range cfg.Rules {
		if err := add(RulesTable, "rule", i, r.ID, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DefaultsJSON is the stored form of the configuration's defaults: "" for
// none.
func DefaultsJSON(d *config.Defaults) (string, error) {
	if d == nil {
		return "", nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("defaults: %w", err)
	}
	return string(b), nil
}

// ConfigRow is a stored item as read back.
type ConfigRow struct{ ID, Body string }

// DecodeConfig rebuilds a configuration from its stored defaults ("" for
// none) and the rows that items reads from a table, in position order.
func DecodeConfig(defaults string, items func(table string) ([]ConfigRow, error)) (config.Config, error) {
	var cfg config.Config
	if defaults != "" {
		cfg.Defaults = &config.Defaults{}
		if err := json.Unmarshal([]byte(defaults), cfg.Defaults); err != nil {
			return config.Config{}, fmt.Errorf("defaults: %w", err)
		}
	}
	var err error
	if cfg.Applications, err = decodeItems[config.Application](ApplicationsTable, items); err != nil {
		return config.Config{}, err
	}
	for i := range cfg.Applications {
		RestoreInts(cfg.Applications[i].Connector.Settings)
	}
	if cfg.Sources, err = decodeItems[config.Source](SourcesTable, items); err != nil {
		return config.Config{}, err
	}
	if cfg.Rules, err = decodeItems[config.Rule](RulesTable, items); err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

func decodeItems[T any](table string, items func(table string) ([]ConfigRow, error)) ([]T, error) {
	rows, err := items(table)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, r := range rows {
		var v T
		if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
			return nil, fmt.Errorf("%s %q: %w", table, r.ID, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// RestoreInts turns the whole numbers JSON decoded as float64 back into
// int, as YAML decodes them, so that connector settings read back equal
// the applied ones (port: 389 stays an int).
func RestoreInts(m map[string]any) {
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
		RestoreInts(x)
	case []any:
		for i := range x {
			x[i] = restoreInt(x[i])
		}
	}
	return v
}

// CheckConfigBase turns the outcome of ApplyConfig's compare-and-set on the
// version row (rows affected, or the error getting it) into the store's
// answer: no row means the version moved on since the caller's base.
func CheckConfigBase(n int64, err error) error {
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: the configuration was changed meanwhile (its version is no longer the one this change was made from)", store.ErrConflict)
	}
	return nil
}
