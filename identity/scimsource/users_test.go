package scimsource_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/identity/scimsource"
)

func TestCreateAndGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodPost, "/scim/v2/Users", user("E1001", "bob")).wantStatus(t, http.StatusCreated)

	wantLoc := b.srv.URL + "/scim/v2/Users/E1001"
	if got := r.header.Get("Location"); got != wantLoc {
		t.Errorf("Location %q, want %q", got, wantLoc)
	}
	p := b.sink.last(t)
	want := identity.Identity{
		SourceID:    "hr",
		ExternalID:  "E1001",
		UserName:    "bob",
		Email:       "bob@example.com",
		DisplayName: "Bob Builder",
		Status:      "ACTIVE",
		EndDate:     identity.EndDate{Time: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), DateOnly: true},
		Department:  "R&D",
		Manager:     "alice",
		Attributes: map[string]string{
			"name.givenName":  "Bob",
			"name.familyName": "Builder",
			"emails.home":     "bob.home@example.com",
			"emails.work":     "bob@example.com",
			"title":           "Engineer",
			"employeeNumber":  "E-1001",
			"costCenter":      "CC-42",
		},
	}
	got := p.idn
	got.UpdatedAt = time.Time{}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sink got\n%+v\nwant\n%+v", got, want)
	}
	if p.sourceID != "hr" || p.actor != "scim:hr" {
		t.Errorf("put by %q as %q, want hr as scim:hr", p.sourceID, p.actor)
	}

	for _, r := range []response{r, b.do(t, http.MethodGet, "/scim/v2/Users/E1001", nil).wantStatus(t, http.StatusOK)} {
		for path, want := range map[string]any{
			"schemas":                                fmt.Sprint([]string{scimsource.URNUser, scimsource.URNEnterprise}),
			"id":                                     "E1001",
			"externalId":                             "E1001",
			"userName":                               "bob",
			"displayName":                            "Bob Builder",
			"name.givenName":                         "Bob",
			"emails.0.value":                         "bob@example.com",
			"emails.0.primary":                       true,
			"active":                                 true,
			"title":                                  "Engineer",
			"meta.resourceType":                      "User",
			"meta.created":                           "2026-11-02T09:31:00Z",
			"meta.lastModified":                      "2026-11-02T09:31:00Z",
			"meta.location":                          wantLoc,
			scimsource.URNEnterprise + ".department": "R&D",
			scimsource.URNEnterprise + ".manager.value":     "alice",
			scimsource.URNEnterprise + ".employeeNumber":    "E-1001",
			scimsource.URNEnterprise + ".employeeLeaveDate": "2026-11-30",
		} {
			g := get(r.body, path)
			if s, ok := want.(string); ok && strings.HasPrefix(s, "[") {
				g = fmt.Sprint(g)
			}
			if g != want {
				t.Errorf("%s = %#v, want %#v", path, g, want)
			}
		}
		if strings.Index(r.raw, `"schemas"`) != 1 || !strings.HasSuffix(strings.TrimSpace(r.raw), "}}") {
			t.Errorf("want schemas first and meta last:\n%s", r.raw)
		}
	}
}

func TestCreateWithoutExternalIDGeneratesID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := user("", "carol")
	r := b.do(t, http.MethodPost, "/scim/v2/Users", u).wantStatus(t, http.StatusCreated)
	id, _ := r.body["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("id %q is not a UUID", id)
	}
	if got := b.sink.last(t).idn.ExternalID; got != id {
		t.Errorf("identity key %q, want the id %q", got, id)
	}
	b.do(t, http.MethodGet, "/scim/v2/Users/"+id, nil).wantStatus(t, http.StatusOK)

	// Azure AD sets externalId later: it is kept beside the id.
	b.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchOp(map[string]any{"op": "add", "path": "externalId", "value": "AAD-77"})).wantStatus(t, http.StatusOK)
	if got := b.sink.last(t).idn.Attributes["externalId"]; got != "AAD-77" {
		t.Errorf("attribute externalId %q, want AAD-77", got)
	}
	r = b.do(t, http.MethodGet, "/scim/v2/Users?filter="+q(`externalId eq "AAD-77"`), nil).wantStatus(t, http.StatusOK)
	// The store filters on the id: a client externalId set after creation
	// is found through the id only (see the package's README notes).
	if got := get(r.body, "totalResults"); got != float64(0) {
		t.Errorf("totalResults %v", got)
	}
	r = b.do(t, http.MethodGet, "/scim/v2/Users/"+id, nil)
	if r.body["externalId"] != "AAD-77" || r.body["id"] != id {
		t.Errorf("id %v externalId %v", r.body["id"], r.body["externalId"])
	}
}

func TestReplace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)

	body := map[string]any{
		"schemas":     []any{scimsource.URNUser},
		"id":          "ignored-read-only",
		"externalId":  "E1",
		"userName":    "Bob",
		"displayName": "Robert Builder",
		"active":      false,
	}
	r := b.do(t, http.MethodPut, "/scim/v2/Users/E1", body).wantStatus(t, http.StatusOK)
	got := b.sink.last(t).idn
	if got.Status != "INACTIVE" || got.DisplayName != "Robert Builder" || got.UserName != "Bob" ||
		got.Department != "" || !got.EndDate.IsZero() || got.Email != "" || got.Attributes != nil {
		t.Errorf("after PUT: %+v", got)
	}
	if r.body["active"] != false || r.body["id"] != "E1" || r.body[scimsource.URNEnterprise] != nil {
		t.Errorf("PUT answer %s", r.raw)
	}
	// A PUT of an unchanged user does not reach the sink again.
	n := b.sink.count()
	b.do(t, http.MethodPut, "/scim/v2/Users/E1", body).wantStatus(t, http.StatusOK)
	if b.sink.count() != n {
		t.Error("an unchanged PUT was stored again")
	}

	b.do(t, http.MethodPut, "/scim/v2/Users/nobody", body).wantError(t, http.StatusNotFound, "", `user "nobody" not found`)
	delete(body, "userName")
	b.do(t, http.MethodPut, "/scim/v2/Users/E1", body).wantError(t, http.StatusBadRequest, scimsource.InvalidValue, `"userName" is required`)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)

	r := b.do(t, http.MethodDelete, "/scim/v2/Users/E1", nil).wantStatus(t, http.StatusNoContent)
	if r.raw != "" {
		t.Errorf("DELETE answered a body: %s", r.raw)
	}
	p := b.sink.last(t)
	if p.idn.Status != "DELETED" || p.idn.UserName != "bob" || p.idn.EndDate.String() != "2026-11-30" {
		t.Errorf("a deletion keeps the identity with status DELETED, got %+v", p.idn)
	}
	b.do(t, http.MethodGet, "/scim/v2/Users/E1", nil).wantError(t, http.StatusNotFound, "", `user "E1" not found`)
	b.do(t, http.MethodDelete, "/scim/v2/Users/E1", nil).wantError(t, http.StatusNotFound, "", `user "E1" not found`)
	b.do(t, http.MethodPut, "/scim/v2/Users/E1", user("E1", "bob")).wantError(t, http.StatusNotFound, "", "not found")
	b.do(t, http.MethodPatch, "/scim/v2/Users/E1", patchOp(map[string]any{"op": "replace", "path": "active", "value": true})).wantError(t, http.StatusNotFound, "", "not found")
	r = b.do(t, http.MethodGet, "/scim/v2/Users", nil).wantStatus(t, http.StatusOK)
	if r.body["totalResults"] != float64(0) {
		t.Errorf("a deleted user is listed: %s", r.raw)
	}

	// The userName stays with the deleted identity...
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E2", "BOB")).wantError(t, http.StatusConflict, scimsource.Uniqueness, `userName "BOB" belongs to user "E1", which this source deleted`)
	// ...and creating the same externalId again brings it back (a rehire).
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
	if got := b.sink.last(t).idn.Status; got != "ACTIVE" {
		t.Errorf("status %q after re-creation", got)
	}
}

func TestDeleteAndRecreateWithoutExternalID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodPost, "/scim/v2/Users", user("", "okta.user")).wantStatus(t, http.StatusCreated)
	id := r.body["id"].(string)
	b.do(t, http.MethodDelete, "/scim/v2/Users/"+id, nil).wantStatus(t, http.StatusNoContent)
	// Okta sends no externalId: the same userName is the same identity.
	r = b.do(t, http.MethodPost, "/scim/v2/Users", user("", "Okta.User")).wantStatus(t, http.StatusCreated)
	if r.body["id"] != id {
		t.Errorf("id %v, want the deleted user's %s back", r.body["id"], id)
	}
	if got := b.sink.last(t).idn; got.Status != "ACTIVE" || got.ExternalID != id {
		t.Errorf("%+v", got)
	}
}

func TestUniqueness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E2", "carol")).wantStatus(t, http.StatusCreated)
	n := b.sink.count()
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E3", "Bob")).wantError(t, http.StatusConflict, scimsource.Uniqueness, `userName "Bob" is already taken by user "E1"`)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bobby")).wantError(t, http.StatusConflict, scimsource.Uniqueness, `a user with externalId "E1" already exists`)
	b.do(t, http.MethodPatch, "/scim/v2/Users/E2", patchOp(map[string]any{"op": "replace", "path": "userName", "value": "BOB"})).
		wantError(t, http.StatusConflict, scimsource.Uniqueness, `userName "BOB" is already taken by user "E1"`)
	b.do(t, http.MethodPut, "/scim/v2/Users/E2", user("E2", "bob")).wantError(t, http.StatusConflict, scimsource.Uniqueness, "already taken")
	if b.sink.count() != n {
		t.Error("a conflicting write reached the sink")
	}
	// A change of case of one's own userName is no conflict.
	b.do(t, http.MethodPatch, "/scim/v2/Users/E1", patchOp(map[string]any{"op": "replace", "path": "userName", "value": "BOB"})).wantStatus(t, http.StatusOK)
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
	with := func(change func(u map[string]any)) map[string]any {
		u := user("E2", "carol")
		change(u)
		return u
	}
	big := strings.Repeat("x", 70<<10)
	for _, tc := range []struct {
		name     string
		body     any
		status   int
		scimType string
		detail   string
	}{
		{"bad JSON", `{"schemas": ["` + scimsource.URNUser + `"], "userName": "x",}`, 400, scimsource.InvalidSyntax,
			fmt.Sprintf("invalid JSON at byte offset %d: invalid character '}'", len(`{"schemas": ["`+scimsource.URNUser+`"], "userName": "x",}`))},
		{"truncated JSON", `{"userName": "x"`, 400, scimsource.InvalidSyntax, "invalid JSON at byte offset 16: unexpected end of input"},
		{"trailing data", `{"userName": "x"} {}`, 400, scimsource.InvalidSyntax, "unexpected data after the top-level object"},
		{"empty body", ``, 400, scimsource.InvalidSyntax, "the request body is empty"},
		{"array body", `[]`, 400, scimsource.InvalidSyntax, "must be a JSON object, got an array"},
		{"unknown attribute", with(func(u map[string]any) { u["shoeSize"] = "44" }), 400, scimsource.InvalidSyntax, `unknown attribute "shoeSize": not an attribute of the User schema`},
		{"unknown sub-attribute", with(func(u map[string]any) { u["name"] = map[string]any{"nick": "b"} }), 400, scimsource.InvalidSyntax, `unknown attribute "name.nick"`},
		{"unknown enterprise attribute", with(func(u map[string]any) {
			u[scimsource.URNEnterprise].(map[string]any)["badge"] = "7"
		}), 400, scimsource.InvalidSyntax, `unknown attribute "` + scimsource.URNEnterprise + `:badge"`},
		{"enterprise attribute at the top", with(func(u map[string]any) { u["department"] = "x" }), 400, scimsource.InvalidSyntax, `it is an attribute of the enterprise extension`},
		{"undeclared extension", with(func(u map[string]any) { u["urn:example:ext:1.0:User"] = map[string]any{"x": "y"} }), 400, scimsource.InvalidSyntax, `unknown attribute "urn:example:ext:1.0:User"`},
		{"userName not a string", with(func(u map[string]any) { u["userName"] = 42 }), 400, scimsource.InvalidValue, `"userName" must be a string, got number 42`},
		{"active not a boolean", with(func(u map[string]any) { u["active"] = "maybe" }), 400, scimsource.InvalidValue, `"active" must be a boolean (true or false), got string "maybe"`},
		{"emails not an array", with(func(u map[string]any) { u["emails"] = "a@b" }), 400, scimsource.InvalidValue, `"emails" must be an array, got string "a@b"`},
		{"email value not a string", with(func(u map[string]any) { u["emails"] = []any{map[string]any{"value": true}} }), 400, scimsource.InvalidValue, `"emails[0].value" must be a string, got boolean true`},
		{"name not an object", with(func(u map[string]any) { u["name"] = "Bob" }), 400, scimsource.InvalidValue, `"name" must be an object, got string "Bob"`},
		{"bad end date", with(func(u map[string]any) { u[scimsource.URNEnterprise].(map[string]any)["employeeLeaveDate"] = "soon" }),
			400, scimsource.InvalidValue, `"` + leaveDate + `" (the source's end date attribute): "soon" is not an RFC 3339 date`},
		{"missing userName", with(func(u map[string]any) { delete(u, "userName") }), 400, scimsource.InvalidValue, `"userName" is required`},
		{"blank userName", with(func(u map[string]any) { u["userName"] = "  " }), 400, scimsource.InvalidValue, `"userName" is required`},
		{"missing schemas", with(func(u map[string]any) { delete(u, "schemas") }), 400, scimsource.InvalidValue, `"schemas" is required`},
		{"extension not in schemas", with(func(u map[string]any) { u["schemas"] = []any{scimsource.URNUser} }), 400, scimsource.InvalidValue, `attributes of "` + scimsource.URNEnterprise + `" are sent but "schemas" does not list it`},
		{"unknown schema", with(func(u map[string]any) { u["schemas"] = []any{scimsource.URNUser, scimsource.URNEnterprise, "urn:x"} }), 400, scimsource.InvalidValue, `unknown schema "urn:x"`},
		{"attribute twice", `{"schemas":["` + scimsource.URNUser + `"],"userName":"a","UserName":"b"}`, 400, scimsource.InvalidSyntax, `is given twice`},
		{"duplicate userName", user("E2", "BOB"), 409, scimsource.Uniqueness, `userName "BOB" is already taken by user "E1"`},
		{"too large", with(func(u map[string]any) { u["title"] = big }), 413, "", "larger than 65536 bytes"},
		{"NUL in a value", with(func(u map[string]any) { u["title"] = "Head\u0000of" }), 400, scimsource.InvalidValue, `attribute "title" contains a NUL byte at byte 5`},
		{"NUL in userName", with(func(u map[string]any) { u["userName"] = "carol\u0000" }), 400, scimsource.InvalidValue, `userName contains a NUL byte at byte 6`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := b.sink.count()
			b.do(t, http.MethodPost, "/scim/v2/Users", tc.body).wantError(t, tc.status, tc.scimType, tc.detail)
			if b.sink.count() != n {
				t.Error("a rejected POST reached the sink")
			}
		})
	}
}

func TestCreateIgnoresReadOnlyAndPassword(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := user("E1", "bob")
	u["id"] = "chosen-by-client"
	u["meta"] = map[string]any{"resourceType": "User"}
	u["groups"] = []any{map[string]any{"value": "g1"}}
	u["password"] = "hunter2-secret"
	u["phoneNumbers"] = []any{map[string]any{"value": "+49 30 1234", "type": "work"}}
	r := b.do(t, http.MethodPost, "/scim/v2/Users", u).wantStatus(t, http.StatusCreated)
	if r.body["id"] != "E1" || r.body["password"] != nil || r.body["groups"] != nil {
		t.Errorf("%s", r.raw)
	}
	got := b.sink.last(t).idn
	for k, v := range got.Attributes {
		if strings.Contains(v, "hunter2") || k == "password" {
			t.Errorf("the password was kept as %s", k)
		}
	}
	if strings.Contains(b.logs.String(), "hunter2") {
		t.Error("the password reached the log")
	}
}

func TestCustomMapping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := func(status, lastDay string, active any) map[string]any {
		u := map[string]any{
			"schemas":    []any{scimsource.URNUser, acmeURN},
			"externalId": "W-7",
			"userName":   "wendy",
			acmeURN:      map[string]any{"employmentStatus": status, "lastDay": lastDay, "badge": 1234, "remote": true},
		}
		if active != nil {
			u["active"] = active
		}
		return u
	}
	r := b.doAs(t, idpToken, http.MethodPost, "/scim/v2/Users", body("Employed", "2027-03-31", nil)).wantStatus(t, http.StatusCreated)
	got := b.sink.last(t)
	if got.sourceID != "idp" || got.idn.Status != "Employed" || got.idn.EndDate.String() != "2027-03-31" ||
		got.idn.Attributes["badge"] != "1234" || got.idn.Attributes["remote"] != "true" || got.idn.Attributes["employmentStatus"] != "Employed" {
		t.Errorf("sink got %+v", got)
	}
	if get(r.body, acmeURN+".lastDay") != "2027-03-31" || get(r.body, acmeURN+".badge") != "1234" || r.body["active"] != true {
		t.Errorf("answer %s", r.raw)
	}

	for _, tc := range []struct {
		name       string
		op         map[string]any
		wantStatus string
	}{
		{"text status", map[string]any{"op": "replace", "path": acmeURN + ":employmentStatus", "value": "Terminated"}, "Terminated"},
		{"active=false wins over the text", map[string]any{"op": "replace", "path": "active", "value": false}, "Suspended"},
		{"active=true gives the text again", map[string]any{"op": "replace", "path": "active", "value": true}, "Terminated"},
		{"no text and active is the active status", map[string]any{"op": "remove", "path": acmeURN + ":employmentStatus"}, "Employed"},
	} {
		b.doAs(t, idpToken, http.MethodPatch, "/scim/v2/Users/W-7", patchOp(tc.op)).wantStatus(t, http.StatusOK)
		if got := b.sink.last(t).idn.Status; got != tc.wantStatus {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.wantStatus)
		}
	}
	b.doAs(t, idpToken, http.MethodPatch, "/scim/v2/Users/W-7", patchOp(map[string]any{"op": "replace", "path": acmeURN + ":lastDay", "value": "2027-02-28"})).wantStatus(t, http.StatusOK)
	if got := b.sink.last(t).idn.EndDate.String(); got != "2027-02-28" {
		t.Errorf("end date %q", got)
	}
	// The enterprise leave date is not declared by this source.
	b.doAs(t, idpToken, http.MethodPatch, "/scim/v2/Users/W-7", patchOp(map[string]any{"op": "replace", "path": leaveDate, "value": "2027-02-28"})).
		wantError(t, http.StatusBadRequest, scimsource.InvalidPath, `unknown attribute "`+leaveDate+`"`)
	b.doAs(t, idpToken, http.MethodPost, "/scim/v2/Users", map[string]any{
		"schemas": []any{scimsource.URNUser, acmeURN}, "userName": "x", acmeURN: map[string]any{"nested": map[string]any{}},
	}).wantError(t, http.StatusBadRequest, scimsource.InvalidValue, `"`+acmeURN+`:nested" must be a string, number or boolean`)
	b.doAs(t, idpToken, http.MethodPost, "/scim/v2/Users", map[string]any{
		"schemas": []any{scimsource.URNUser, acmeURN}, "userName": "x", acmeURN: map[string]any{"employmentStatus": true},
	}).wantError(t, http.StatusBadRequest, scimsource.InvalidValue, `"`+acmeURN+`:employmentStatus" must be a string`)

	b.doAs(t, idpToken, http.MethodDelete, "/scim/v2/Users/W-7", nil).wantStatus(t, http.StatusNoContent)
	if got := b.sink.last(t).idn.Status; got != "Gone" {
		t.Errorf("status after DELETE %q, want the source's deletedStatus Gone", got)
	}
	b.doAs(t, idpToken, http.MethodGet, "/scim/v2/Users/W-7", nil).wantStatus(t, http.StatusNotFound)
}

func TestCustomMappingActiveFalseOnCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.doAs(t, idpToken, http.MethodPost, "/scim/v2/Users", map[string]any{
		"schemas": []any{scimsource.URNUser}, "userName": "v", "externalId": "V1", "active": "False",
	}).wantStatus(t, http.StatusCreated)
	if got := b.sink.last(t).idn.Status; got != "Suspended" {
		t.Errorf("status %q, want Suspended", got)
	}
	r := b.doAs(t, idpToken, http.MethodGet, "/scim/v2/Users/V1", nil).wantStatus(t, http.StatusOK)
	if r.body["active"] != false || r.body[acmeURN] != nil {
		t.Errorf("%s", r.raw)
	}
	// A status made from active=false is not taken for the source's text
	// when the user is reinstated.
	b.doAs(t, idpToken, http.MethodPatch, "/scim/v2/Users/V1", patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "Vic"})).wantStatus(t, http.StatusOK)
	b.doAs(t, idpToken, http.MethodPatch, "/scim/v2/Users/V1", patchOp(map[string]any{"op": "replace", "path": "active", "value": true})).wantStatus(t, http.StatusOK)
	if got := b.sink.last(t).idn.Status; got != "Employed" {
		t.Errorf("status %q after reinstatement, want Employed", got)
	}
}

func TestIDsWithReservedCharacters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, id := range []string{"a/b", "x y", "ü-1", "50%"} {
		u := user(id, "user-"+id)
		r := b.do(t, http.MethodPost, "/scim/v2/Users", u).wantStatus(t, http.StatusCreated)
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, b.srv.URL+"/scim/v2/Users/") {
			t.Fatalf("Location %q", loc)
		}
		r = b.do(t, http.MethodGet, strings.TrimPrefix(loc, b.srv.URL), nil).wantStatus(t, http.StatusOK)
		if r.body["id"] != id {
			t.Errorf("id %v, want %q", r.body["id"], id)
		}
	}
}

func TestSinkErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		scimType string
		detail   string
	}{
		{"scim error", fmt.Errorf("engine: %w", &scimsource.Error{Status: 409, Type: scimsource.Uniqueness, Detail: "held by the feed guard"}), 409, scimsource.Uniqueness, "held by the feed guard"},
		{"other error", fmt.Errorf("database /var/lib/deprov.db is locked"), 500, "", "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupWith(t, &failingSink{memSink: newMemSink(), err: tc.err}, testSources())
			r := b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob"))
			r.wantError(t, tc.status, tc.scimType, tc.detail)
			if strings.Contains(r.raw, "/var/lib") {
				t.Errorf("internals in the answer: %s", r.raw)
			}
		})
	}
}

type failingSink struct {
	*memSink
	err   error
	panic bool
}

func (s *failingSink) PutIdentity(ctx context.Context, sourceID string, idn identity.Identity, actor string) (identity.Identity, error) {
	if s.panic {
		panic("boom: secret internals")
	}
	return identity.Identity{}, s.err
}

func TestPanicIsA500(t *testing.T) {
	t.Parallel()
	b := setupWith(t, &failingSink{memSink: newMemSink(), panic: true}, testSources())
	r := b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob"))
	r.wantError(t, http.StatusInternalServerError, "", "internal error")
	if strings.Contains(r.raw, "boom") {
		t.Errorf("the panic leaked: %s", r.raw)
	}
	// The server keeps serving.
	b.do(t, http.MethodGet, "/scim/v2/Users", nil).wantStatus(t, http.StatusOK)
}

// TestDefaultEndDate: a source without a scim block reads the end date
// from the enterprise leave date, and says so in /Schemas.
func TestDefaultEndDate(t *testing.T) {
	t.Parallel()
	const token = "plain-secret-token-0123456789"
	b := setupWith(t, newMemSink(), []config.Source{{ID: "plain", Type: "scim", Token: token}})

	r := b.doAs(t, token, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)
	if got := b.sink.last(t).idn.EndDate; got.String() != "2026-11-30" || !got.DateOnly {
		t.Errorf("end date %v, want the date 2026-11-30", got)
	}
	if got := get(r.body, scimsource.URNEnterprise+".employeeLeaveDate"); got != "2026-11-30" {
		t.Errorf("answer's employeeLeaveDate %#v\n%s", got, r.raw)
	}

	b.doAs(t, token, http.MethodPatch, "/scim/v2/Users/E1", patchOp(map[string]any{"op": "replace", "path": scimsource.DefaultEndDate, "value": "2027-01-15T17:00:00Z"})).
		wantStatus(t, http.StatusOK)
	if got := b.sink.last(t).idn.EndDate.String(); got != "2027-01-15T17:00:00Z" {
		t.Errorf("after PATCH: end date %q", got)
	}

	n := b.sink.count()
	bad := user("E2", "carol")
	bad[scimsource.URNEnterprise].(map[string]any)["employeeLeaveDate"] = "soon"
	b.doAs(t, token, http.MethodPost, "/scim/v2/Users", bad).
		wantError(t, http.StatusBadRequest, scimsource.InvalidValue, `"`+scimsource.DefaultEndDate+`" (the source's end date attribute): "soon" is not an RFC 3339 date`)
	if b.sink.count() != n {
		t.Error("a rejected POST reached the sink")
	}

	r = b.doAs(t, token, http.MethodGet, "/scim/v2/Schemas/"+scimsource.URNEnterprise, nil).wantStatus(t, http.StatusOK)
	as, _ := r.body["attributes"].([]any)
	found := false
	for _, a := range as {
		if get(a, "name") == "employeeLeaveDate" {
			found = true
			if get(a, "type") != "dateTime" || get(a, "multiValued") != false {
				t.Errorf("employeeLeaveDate: %v", a)
			}
		}
	}
	if !found {
		t.Errorf("the enterprise schema does not declare employeeLeaveDate:\n%s", r.raw)
	}
}
