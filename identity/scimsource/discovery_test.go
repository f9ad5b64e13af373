package scimsource_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/identity/scimsource"
)

func TestServiceProviderConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodGet, "/scim/v2/ServiceProviderConfig", nil).wantStatus(t, http.StatusOK)
	for path, want := range map[string]any{
		"schemas.0":                    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
		"patch.supported":              true,
		"bulk.supported":               false,
		"filter.supported":             true,
		"filter.maxResults":            float64(1000),
		"changePassword.supported":     false,
		"sort.supported":               false,
		"etag.supported":               false,
		"authenticationSchemes.0.type": "oauthbearertoken",
		"meta.resourceType":            "ServiceProviderConfig",
		"meta.location":                b.srv.URL + "/scim/v2/ServiceProviderConfig",
	} {
		if got := get(r.body, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	b.do(t, http.MethodPost, "/scim/v2/ServiceProviderConfig", "{}").wantError(t, http.StatusMethodNotAllowed, "", "allowed: GET")
}

func TestSchemas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	attrNames := func(schema any) []string {
		var out []string
		as, _ := get(schema, "attributes").([]any)
		for _, a := range as {
			out = append(out, fmt.Sprint(get(a, "name")))
		}
		return out
	}
	for _, tc := range []struct {
		token   string
		schemas []string
		// declared are attributes the source's mapping adds.
		declared map[string]string
	}{
		{hrToken, []string{scimsource.URNUser, scimsource.URNEnterprise}, map[string]string{scimsource.URNEnterprise: "employeeLeaveDate"}},
		{idpToken, []string{scimsource.URNUser, scimsource.URNEnterprise, acmeURN}, map[string]string{acmeURN: "lastDay"}},
	} {
		r := b.doAs(t, tc.token, http.MethodGet, "/scim/v2/Schemas", nil).wantStatus(t, http.StatusOK)
		if r.body["totalResults"] != float64(len(tc.schemas)) {
			t.Errorf("totalResults %v", r.body["totalResults"])
		}
		rs, _ := r.body["Resources"].([]any)
		var got []string
		for _, s := range rs {
			got = append(got, fmt.Sprint(get(s, "id")))
			if fmt.Sprint(get(s, "schemas")) != "[urn:ietf:params:scim:schemas:core:2.0:Schema]" {
				t.Errorf("schema %v: schemas %v", get(s, "id"), get(s, "schemas"))
			}
		}
		if !slices.Equal(got, tc.schemas) {
			t.Errorf("schemas %v, want %v", got, tc.schemas)
		}
		core := rs[0]
		for _, want := range []string{"userName", "name", "displayName", "active", "emails", "title", "groups"} {
			if !slices.Contains(attrNames(core), want) {
				t.Errorf("core schema lacks %s", want)
			}
		}
		if get(core, "attributes.0.name") != "userName" || get(core, "attributes.0.required") != true || get(core, "attributes.0.uniqueness") != "server" {
			t.Errorf("userName: %v", get(core, "attributes.0"))
		}
		for urn, name := range tc.declared {
			r := b.doAs(t, tc.token, http.MethodGet, "/scim/v2/Schemas/"+urn, nil).wantStatus(t, http.StatusOK)
			if !slices.Contains(attrNames(r.body), name) {
				t.Errorf("%s lacks the declared %s: %v", urn, name, attrNames(r.body))
			}
		}
	}
	r := b.do(t, http.MethodGet, "/scim/v2/Schemas/"+scimsource.URNEnterprise, nil).wantStatus(t, http.StatusOK)
	for _, want := range []string{"employeeNumber", "costCenter", "organization", "division", "department", "manager"} {
		if !slices.Contains(attrNames(r.body), want) {
			t.Errorf("enterprise schema lacks %s", want)
		}
	}
	b.do(t, http.MethodGet, "/scim/v2/Schemas/urn:nope", nil).wantError(t, http.StatusNotFound, "", `no schema "urn:nope"`)
}

func TestResourceTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.doAs(t, idpToken, http.MethodGet, "/scim/v2/ResourceTypes", nil).wantStatus(t, http.StatusOK)
	if r.body["totalResults"] != float64(1) {
		t.Errorf("totalResults %v", r.body["totalResults"])
	}
	rt := get(r.body, "Resources.0")
	for path, want := range map[string]any{
		"schemas.0":                   "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
		"id":                          "User",
		"endpoint":                    "/Users",
		"schema":                      scimsource.URNUser,
		"schemaExtensions.0.schema":   scimsource.URNEnterprise,
		"schemaExtensions.0.required": false,
		"schemaExtensions.1.schema":   acmeURN,
		"meta.location":               b.srv.URL + "/scim/v2/ResourceTypes/User",
	} {
		if got := get(rt, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	b.do(t, http.MethodGet, "/scim/v2/ResourceTypes/User", nil).wantStatus(t, http.StatusOK)
	b.do(t, http.MethodGet, "/scim/v2/ResourceTypes/Group", nil).wantError(t, http.StatusNotFound, "", "User only")
}

func TestOtherEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ method, path, detail string }{
		{http.MethodGet, "/scim/v2/Groups", "Users only"},
		{http.MethodPost, "/scim/v2/Bulk", "bulk is not supported"},
		{http.MethodGet, "/scim/v2/Me", "no such endpoint"},
		{http.MethodGet, "/scim/v2/", "use /scim/v2/Users"},
		{http.MethodGet, "/scim/v2/Users/a/b", "no such endpoint"},
		{http.MethodPost, "/scim/v2/Users/.search", "not supported"},
		{http.MethodGet, "/scim/v3/Users", "not a SCIM endpoint"},
		{http.MethodGet, "/scim/v2x", "not a SCIM endpoint"},
	} {
		b.do(t, tc.method, tc.path, nil).wantError(t, http.StatusNotFound, "", tc.detail)
	}
	b.do(t, http.MethodDelete, "/scim/v2/Users", nil).wantError(t, http.StatusMethodNotAllowed, "", "allowed: GET, POST")
	b.do(t, http.MethodPost, "/scim/v2/Users/E1", "{}").wantError(t, http.StatusMethodNotAllowed, "", "allowed: GET, PUT, PATCH, DELETE")
}

func TestContentType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"application/scim+json", http.StatusCreated},
		{"application/json; charset=utf-8", http.StatusCreated},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
	} {
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/scim/v2/Users", jsonReader(t, user("", "ct-"+fmt.Sprint(tc.status, len(tc.ct)))))
		req.Header.Set("Authorization", "Bearer "+hrToken)
		req.Header.Set("Content-Type", tc.ct)
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.ct, resp.StatusCode, tc.status)
		}
	}
}

func TestCheckMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mapping config.SCIMMapping
		want    string
	}{
		{"default", config.SCIMMapping{}, ""},
		{"enterprise leave date", config.SCIMMapping{EndDate: leaveDate}, ""},
		{"custom extension", config.SCIMMapping{Status: acmeURN + ":status", EndDate: acmeURN + ":end"}, ""},
		{"core text status", config.SCIMMapping{Status: "userType"}, ""},
		{"active with its URN", config.SCIMMapping{Status: scimsource.URNUser + ":active"}, ""},
		{"sub-attribute", config.SCIMMapping{EndDate: "name.givenName"}, `scim.endDate: "name.givenName" is not a simple attribute path`},
		{"complex", config.SCIMMapping{Status: scimsource.URNEnterprise + ":manager"}, `scim.status: "` + scimsource.URNEnterprise + `:manager" cannot be mapped`},
		{"common attribute", config.SCIMMapping{Status: "id"}, `scim.status: "id" cannot be mapped`},
		{"same attribute twice", config.SCIMMapping{Status: acmeURN + ":x", EndDate: acmeURN + ":x"}, "is also the status attribute"},
		{"end date on active", config.SCIMMapping{EndDate: "active"}, `"active" is a boolean`},
		{"status on the default end date", config.SCIMMapping{Status: leaveDate}, "scim.endDate: the default \"" + leaveDate + "\" is also the status attribute"},
		{"status on the leave date, end date elsewhere", config.SCIMMapping{Status: leaveDate, EndDate: acmeURN + ":end"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := scimsource.CheckMapping(config.Source{ID: "s", Type: "scim", SCIM: &tc.mapping})
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && !strings.Contains(got, tc.want)) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
