package records

import (
	"errors"
	"reflect"
	"testing"

	"github.com/deprov/deprov/config"
)

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := config.Config{
		Applications: []config.Application{{ID: "ldap", Connector: config.Connector{Type: "ldap",
			Settings: map[string]any{"port": 389, "ratio": 0.5, "nested": map[string]any{"n": 2}, "list": []any{1, "x"}}}}},
		Sources:  []config.Source{{ID: "hr"}},
		Rules:    []config.Rule{{ID: "leavers"}, {ID: "movers"}},
		Defaults: &config.Defaults{},
	}
	items, err := ConfigItems(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][]ConfigRow{}
	for _, it := range items {
		if it.Position != len(tables[it.Table]) {
			t.Fatalf("%s at position %d", it.Name, it.Position)
		}
		tables[it.Table] = append(tables[it.Table], ConfigRow{ID: it.ID, Body: it.Body})
	}
	if items[0].Name != `application "ldap"` {
		t.Fatalf("name %q", items[0].Name)
	}
	defaults, err := DefaultsJSON(cfg.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeConfig(defaults, func(table string) ([]ConfigRow, error) { return tables[table], nil })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("read back\n%#v\nwant\n%#v", got, cfg)
	}

	if d, _ := DefaultsJSON(nil); d != "" {
		t.Fatalf("no defaults stored as %q", d)
	}
	got, err = DecodeConfig("", func(string) ([]ConfigRow, error) { return nil, nil })
	if err != nil || got.Defaults != nil || got.Applications != nil {
		t.Fatalf("empty configuration: %#v, %v", got, err)
	}
	if _, err := DecodeConfig("", func(string) ([]ConfigRow, error) { return []ConfigRow{{ID: "x", Body: "{"}}, nil }); err == nil {
		t.Fatal("a bad body decoded")
	}
}

func TestConfigItemInsertError(t *testing.T) {
	t.Parallel()
	it := ConfigItem{Name: `rule "leavers"`}
	cause := errors.New("driver says no")
	for _, tc := range []struct {
		duplicate bool
		want      string
	}{
		{true, `rule "leavers": duplicate id: driver says no`},
		{false, `rule "leavers": driver says no`},
	} {
		err := it.InsertError(cause, tc.duplicate)
		if err.Error() != tc.want || !errors.Is(err, cause) {
			t.Errorf("duplicate %v: %v, want %s", tc.duplicate, err, tc.want)
		}
	}
}
