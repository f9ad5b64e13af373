package records

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/store"
)

func mustEndDate(t *testing.T, s string) identity.EndDate {
	t.Helper()
	d, err := identity.ParseEndDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestContentHashIsStable pins the content hash: databases keep it, and a
// change to it would count every stored identity as updated on its next
// sync.
func TestContentHashIsStable(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		id          identity.Identity
		hash, attrs string
	}{
		"every field": {
			id: identity.Identity{ExternalID: "E1", UserName: "Zoë", Email: "z@example.com", DisplayName: "Zoë Z",
				Status: "Active", EndDate: mustEndDate(t, "2026-12-31"), Department: "Sales", Manager: "E0",
				Attributes: map[string]string{"country": "DE"}},
			hash:  "0231d7d57db664d4fde6f2c9ed2760cbcd4fe21ab8cc160e8858f0be52b9ff67",
			attrs: `{"country":"DE"}`,
		},
		"bare": {
			id:    identity.Identity{ExternalID: "E2", UserName: "a"},
			hash:  "5670267a8c9c464697840c556697d11a1c7d96b72dcc717e9f88da7abbe8bcce",
			attrs: "{}",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			row, err := NewIdentityRow("hr", tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if row.Hash != tc.hash || row.Attrs != tc.attrs {
				t.Fatalf("hash %s, attrs %s; want %s, %s", row.Hash, row.Attrs, tc.hash, tc.attrs)
			}
		})
	}
}

func TestNewIdentityRow(t *testing.T) {
	t.Parallel()
	base := identity.Identity{ExternalID: "E1", UserName: "Zoë.Ångström", Email: "Z@Example.com",
		DisplayName: "Zoë", Status: "Active"}
	row, err := NewIdentityRow("hr", base)
	if err != nil {
		t.Fatal(err)
	}
	if row.SourceID != "hr" || row.Key != "hr/E1" {
		t.Fatalf("source %q, key %q", row.SourceID, row.Key)
	}
	if row.UserNameFold != "zoë.ångström" || row.StatusFold != "active" || row.Search != "zoë.ångström\nz@example.com\nzoë" {
		t.Fatalf("folds: %q %q %q", row.UserNameFold, row.StatusFold, row.Search)
	}

	same := base
	same.SourceID, same.UpdatedAt, same.Attributes = "hr", time.Now(), map[string]string{}
	if r, _ := NewIdentityRow("hr", same); r.Hash != row.Hash {
		t.Fatal("source, UpdatedAt or empty attributes changed the hash")
	}
	changed := base
	changed.Manager = "E0"
	if r, _ := NewIdentityRow("hr", changed); r.Hash == row.Hash {
		t.Fatal("a changed manager kept the hash")
	}

	for name, id := range map[string]identity.Identity{
		"other source":   {SourceID: "idp", ExternalID: "a"},
		"no external id": {UserName: "a"},
	} {
		if _, err := NewIdentityRow("hr", id); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTally(t *testing.T) {
	t.Parallel()
	row, err := NewIdentityRow("hr", identity.Identity{ExternalID: "E1", UserName: "a", Status: "Active",
		EndDate: mustEndDate(t, "2026-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	stored := row.Stored()
	for _, tc := range []struct {
		name   string
		old    StoredIdentity
		found  bool
		change Change
		want   store.SyncResult
	}{
		{"new", StoredIdentity{}, false, Insert, store.SyncResult{Created: 1, Changed: []string{"hr/E1"}}},
		{"same", stored, true, Unchanged, store.SyncResult{Unchanged: 1}},
		{"other content", StoredIdentity{Hash: "x", Status: "active", EndDate: stored.EndDate}, true, Update,
			store.SyncResult{Updated: 1, Changed: []string{"hr/E1"}}},
		{"other status", StoredIdentity{Hash: "x", Status: "Terminated", EndDate: stored.EndDate}, true, Update,
			store.SyncResult{Updated: 1, StatusChanged: 1, Changed: []string{"hr/E1"}}},
		{"other end date", StoredIdentity{Hash: "x", Status: "Active"}, true, Update,
			store.SyncResult{Updated: 1, StatusChanged: 1, Changed: []string{"hr/E1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var res store.SyncResult
			if got := Tally(&res, row, tc.old, tc.found); got != tc.change {
				t.Errorf("change %d, want %d", got, tc.change)
			}
			if res.Created != tc.want.Created || res.Updated != tc.want.Updated || res.Unchanged != tc.want.Unchanged ||
				res.StatusChanged != tc.want.StatusChanged || !slices.Equal(res.Changed, tc.want.Changed) {
				t.Errorf("result %+v, want %+v", res, tc.want)
			}
		})
	}
}

func TestDecodeIdentity(t *testing.T) {
	t.Parallel()
	var id identity.Identity
	if err := DecodeIdentity(&id, "hr/E1", "2026-12-31", `{"country":"DE"}`); err != nil {
		t.Fatal(err)
	}
	if id.EndDate.String() != "2026-12-31" || id.Attributes["country"] != "DE" {
		t.Fatalf("decoded %+v", id)
	}
	if err := DecodeIdentity(&id, "hr/E1", "", "{}"); err != nil || id.Attributes != nil || !id.EndDate.IsZero() {
		t.Fatalf("empty columns: %+v, %v", id, err)
	}
	if err := DecodeIdentity(&id, "hr/E1", "", "{"); err == nil {
		t.Fatal("bad attributes decoded")
	}
}

func TestIdentityPage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q             store.IdentityQuery
		limit, offset int
	}{
		{store.IdentityQuery{}, 100, 0},
		{store.IdentityQuery{Limit: -1, Offset: -5}, 100, 0},
		{store.IdentityQuery{Limit: 7, Offset: 3}, 7, 3},
	} {
		if l, o := IdentityPage(tc.q); l != tc.limit || o != tc.offset {
			t.Errorf("%+v: %d, %d; want %d, %d", tc.q, l, o, tc.limit, tc.offset)
		}
	}
}

func TestWithSyncCounts(t *testing.T) {
	t.Parallel()
	ev := WithSyncCounts(auditEvent("source.synced", map[string]any{"source": "hr"}),
		store.SyncResult{Created: 1, Updated: 2, Unchanged: 3, StatusChanged: 4})
	for k, want := range map[string]any{"source": "hr", "created": 1, "updated": 2, "unchanged": 3, "statusChanged": 4} {
		if ev.Detail[k] != want {
			t.Errorf("%s = %v, want %v", k, ev.Detail[k], want)
		}
	}
}

// FuzzParseAttributes: the fast path reads whatever it accepts exactly as
// encoding/json does, and ParseAttributes as a whole agrees with it.
func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a": "b", "c": "d"}`, `{"x":"\u00e9"}`, `{"a":"b",}`,
		`{"a":1}`, ` {"k" : "v"} `, `{"a":"b"}x`, `{"a":"b\"c"}`, `{"a":"\u003c"}`, "{\"a\":\"\xff\"}", `{"a":"b","a":"c"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want map[string]string
		wantErr := json.Unmarshal([]byte(s), &want)
		if m, ok := parseFlatObject(s); ok {
			if wantErr != nil {
				t.Fatalf("fast path accepted %q, which encoding/json refuses: %v", s, wantErr)
			}
			if !reflect.DeepEqual(m, want) && !(len(m) == 0 && len(want) == 0) {
				t.Fatalf("fast path read %q as %v, encoding/json as %v", s, m, want)
			}
		}
		got, err := ParseAttributes(s)
		if s == "" {
			return
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("ParseAttributes(%q) error %v, encoding/json %v", s, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("ParseAttributes(%q) = %v, encoding/json %v", s, got, want)
		}
	})
}
