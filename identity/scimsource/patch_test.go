package scimsource_test

import (
	"net/http"
	"testing"

	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/identity/scimsource"
)

func TestPatchActiveFalse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		op   map[string]any
	}{
		{"path", map[string]any{"op": "replace", "path": "active", "value": false}},
		{"no path", map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
		{"azure string", map[string]any{"op": "Replace", "path": "active", "value": "False"}},
		{"okta no path string", map[string]any{"op": "replace", "value": map[string]any{"active": "false"}}},
		{"urn path", map[string]any{"op": "replace", "path": scimsource.URNUser + ":active", "value": false}},
		{"add", map[string]any{"op": "add", "path": "active", "value": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
			r := b.do(t, http.MethodPatch, "/scim/v2/Users/E1", patchOp(tc.op)).wantStatus(t, http.StatusOK)
			if r.body["active"] != false {
				t.Errorf("active %v", r.body["active"])
			}
			got := b.sink.last(t).idn
			if got.Status != "INACTIVE" {
				t.Errorf("status %q, want INACTIVE", got.Status)
			}
			// Everything else is kept.
			if got.Department != "R&D" || got.EndDate.String() != "2026-11-30" || got.Email != "bob@example.com" || got.Attributes["costCenter"] != "CC-42" {
				t.Errorf("PATCH lost data: %+v", got)
			}
			r = b.do(t, http.MethodGet, "/scim/v2/Users/E1", nil).wantStatus(t, http.StatusOK)
			if r.body["active"] != false {
				t.Errorf("GET active %v", r.body["active"])
			}
			// Reinstated.
			b.do(t, http.MethodPatch, "/scim/v2/Users/E1", patchOp(map[string]any{"op": "replace", "path": "active", "value": "True"})).wantStatus(t, http.StatusOK)
			if got := b.sink.last(t).idn.Status; got != "ACTIVE" {
				t.Errorf("status %q after active=true, want ACTIVE", got)
			}
		})
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	ent := scimsource.URNEnterprise
	for _, tc := range []struct {
		name  string
		ops   []map[string]any
		check func(t *testing.T, idn identity.Identity)
	}{
		{"end date by path", []map[string]any{{"op": "replace", "path": leaveDate, "value": "2026-12-31T17:00:00+01:00"}},
			func(t *testing.T, idn identity.Identity) {
				if idn.EndDate.String() != "2026-12-31T17:00:00+01:00" || idn.EndDate.DateOnly {
					t.Errorf("end date %v", idn.EndDate)
				}
			}},
		{"end date without path, extension object", []map[string]any{{"op": "replace", "value": map[string]any{ent: map[string]any{"employeeLeaveDate": "2027-01-15"}}}},
			func(t *testing.T, idn identity.Identity) {
				if idn.EndDate.String() != "2027-01-15" || idn.Department != "R&D" {
					t.Errorf("end date %v department %q", idn.EndDate, idn.Department)
				}
			}},
		{"end date removed", []map[string]any{{"op": "remove", "path": leaveDate}},
			func(t *testing.T, idn identity.Identity) {
				if !idn.EndDate.IsZero() {
					t.Errorf("end date %v", idn.EndDate)
				}
			}},
		{"azure full-path keys", []map[string]any{{"op": "Add", "value": map[string]any{ent + ":department": "Sales", "name.givenName": "Rob"}}},
			func(t *testing.T, idn identity.Identity) {
				if idn.Department != "Sales" || idn.Attributes["name.givenName"] != "Rob" {
					t.Errorf("%+v", idn)
				}
			}},
		{"azure manager string", []map[string]any{{"op": "Replace", "path": ent + ":manager", "value": "carol"}},
			func(t *testing.T, idn identity.Identity) {
				if idn.Manager != "carol" {
					t.Errorf("manager %q", idn.Manager)
				}
			}},
		{"manager sub-attribute", []map[string]any{{"op": "replace", "path": ent + ":manager.value", "value": "dave"}},
			func(t *testing.T, idn identity.Identity) {
				if idn.Manager != "dave" {
					t.Errorf("manager %q", idn.Manager)
				}
			}},
		{"remove manager", []map[string]any{{"op": "remove", "path": ent + ":manager"}},
			func(t *testing.T, idn identity.Identity) {
				if idn.Manager != "" {
					t.Errorf("manager %q", idn.Manager)
				}
			}},
		{"email through a filter that matches", []map[string]any{{"op": "replace", "path": `emails[type eq "work"].value`, "value": "b@example.org"}},
			func(t *testing.T, idn identity.Identity) {
				if idn.Email != "b@example.org" {
					t.Errorf("email %q", idn.Email)
				}
			}},
		{"email through a filter that matches nothing", []map[string]any{
			{"op": "remove", "path": "emails"},
			{"op": "add", "path": `emails[type eq "work"].value`, "value": "new@example.org"},
		}, func(t *testing.T, idn identity.Identity) {
			if idn.Email != "new@example.org" {
				t.Errorf("email %q", idn.Email)
			}
		}},
		{"add a primary email", []map[string]any{{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "p@example.org", "primary": true}}}},
			func(t *testing.T, idn identity.Identity) {
				if idn.Email != "p@example.org" {
					t.Errorf("email %q", idn.Email)
				}
			}},
		{"displayName and title", []map[string]any{{"op": "replace", "value": map[string]any{"displayName": "B. B.", "title": "Lead"}}},
			func(t *testing.T, idn identity.Identity) {
				if idn.DisplayName != "B. B." || idn.Attributes["title"] != "Lead" || idn.Status != "ACTIVE" {
					t.Errorf("%+v", idn)
				}
			}},
		{"remove an attribute", []map[string]any{{"op": "remove", "path": "title"}},
			func(t *testing.T, idn identity.Identity) {
				if _, ok := idn.Attributes["title"]; ok {
					t.Errorf("title %q kept", idn.Attributes["title"])
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
			b.do(t, http.MethodPatch, "/scim/v2/Users/E1", patchOp(tc.ops...)).wantStatus(t, http.StatusOK)
			tc.check(t, b.sink.last(t).idn)
		})
	}
}

func TestPatchKeepsAStatusItDoesNotTouch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// An identity whose status came another way (a one-off import).
	b.sink.ids["hr"] = map[string]identity.Identity{"E9": {SourceID: "hr", ExternalID: "E9", UserName: "erin", Status: "ON_LEAVE",
		Attributes: map[string]string{"contract": "fixed-term"}}}
	b.do(t, http.MethodPatch, "/scim/v2/Users/E9", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "Erin"})).wantStatus(t, http.StatusOK)
	got := b.sink.last(t).idn
	if got.Status != "ON_LEAVE" || got.DisplayName != "Erin" {
		t.Errorf("status %q display %q", got.Status, got.DisplayName)
	}
	// An attribute SCIM cannot show survives PATCH and PUT.
	if got.Attributes["contract"] != "fixed-term" {
		t.Errorf("attributes %v", got.Attributes)
	}
	b.do(t, http.MethodPut, "/scim/v2/Users/E9", map[string]any{"schemas": []any{scimsource.URNUser}, "userName": "erin"}).wantStatus(t, http.StatusOK)
	if got := b.sink.last(t).idn; got.Attributes["contract"] != "fixed-term" || got.Status != "ACTIVE" {
		t.Errorf("after PUT: %+v", got)
	}
}

func TestPatchErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
	for _, tc := range []struct {
		name     string
		body     any
		status   int
		scimType string
		detail   string
	}{
		{"bad end date", patchOp(map[string]any{"op": "replace", "path": leaveDate, "value": "31/12/2026"}),
			400, scimsource.InvalidValue, leaveDate + `" (the source's end date attribute): "31/12/2026" is not an RFC 3339 date`},
		{"end date not a string", patchOp(map[string]any{"op": "replace", "path": leaveDate, "value": 20261231}),
			400, scimsource.InvalidValue, `must be a string, got number 20261231`},
		{"active not a boolean", patchOp(map[string]any{"op": "replace", "path": "active", "value": "nope"}),
			400, scimsource.InvalidValue, `"active" must be a boolean (true or false), got string "nope"`},
		{"remove userName", patchOp(map[string]any{"op": "remove", "path": "userName"}),
			400, scimsource.InvalidValue, `"userName" is required`},
		{"read-only id", patchOp(map[string]any{"op": "replace", "path": "id", "value": "x"}),
			400, scimsource.Mutability, `"id" is read-only`},
		{"unknown path", patchOp(map[string]any{"op": "replace", "path": "shoeSize", "value": "44"}),
			400, scimsource.InvalidPath, `unknown attribute "shoeSize"`},
		{"unknown attribute in value", patchOp(map[string]any{"op": "replace", "value": map[string]any{"shoeSize": "44"}}),
			400, scimsource.InvalidSyntax, `unknown attribute "shoeSize"`},
		{"malformed path", patchOp(map[string]any{"op": "replace", "path": "emails[type eq", "value": "x"}),
			400, scimsource.InvalidPath, `invalid path "emails[type eq"`},
		{"remove without path", patchOp(map[string]any{"op": "remove"}),
			400, scimsource.NoTarget, "remove needs a path"},
		{"unknown op", patchOp(map[string]any{"op": "move", "path": "title", "value": "x"}),
			400, scimsource.InvalidValue, `Operations[0].op must be "add", "replace" or "remove", got string "move"`},
		{"no operations", map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
			400, scimsource.InvalidValue, `"Operations" is required`},
		{"user schema instead of PatchOp", map[string]any{"schemas": []any{scimsource.URNUser}, "Operations": []any{}},
			400, scimsource.InvalidValue, `"schemas" must be ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`},
		{"replace through a filter matching nothing", patchOp(map[string]any{"op": "replace", "path": `emails[value co "zz"]`, "value": map[string]any{"type": "work"}}),
			400, scimsource.NoTarget, `no value of "emails" matches the filter`},
		{"two primaries", patchOp(map[string]any{"op": "replace", "path": "emails", "value": []any{
			map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x", "primary": true}}}),
			400, scimsource.InvalidValue, `"emails": at most one value may have "primary": true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := b.sink.count()
			b.do(t, http.MethodPatch, "/scim/v2/Users/E1", tc.body).wantError(t, tc.status, tc.scimType, tc.detail)
			if b.sink.count() != n {
				t.Error("a failed PATCH reached the sink")
			}
		})
	}
	b.do(t, http.MethodPatch, "/scim/v2/Users/nobody", patchOp(map[string]any{"op": "replace", "path": "active", "value": false})).
		wantError(t, http.StatusNotFound, "", `user "nobody" not found`)
}
