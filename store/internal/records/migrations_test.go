package records

import (
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	ms, err := Migrations(fstest.MapFS{
		"migrations/0010_later.sql": file("B"),
		"migrations/0002_first.sql": file("A"),
		"migrations/README":         file("not a migration"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0] != (Migration{2, "0002_first.sql", "A"}) || ms[1].Version != 10 {
		t.Fatalf("migrations %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no number":      {"migrations/init.sql": file("")},
		"zero":           {"migrations/0000_x.sql": file("")},
		"version reused": {"migrations/0001_a.sql": file(""), "migrations/1_b.sql": file("")},
	} {
		if _, err := Migrations(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
