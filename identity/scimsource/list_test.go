package scimsource_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/deprov/deprov/identity/scimsource"
)

func q(filter string) string { return url.QueryEscape(filter) }

func ids(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	rs, _ := r.body["Resources"].([]any)
	for _, e := range rs {
		out = append(out, fmt.Sprint(get(e, "id")))
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, name := range []string{"amy", "ben", "cat", "dan", "eve"} {
		b.do(t, http.MethodPost, "/scim/v2/Users", user(fmt.Sprintf("E%d", i+1), name)).wantStatus(t, http.StatusCreated)
	}
	b.do(t, http.MethodDelete, "/scim/v2/Users/E5", nil).wantStatus(t, http.StatusNoContent)
	b.doAs(t, idpToken, http.MethodPost, "/scim/v2/Users", map[string]any{"schemas": []any{scimsource.URNUser}, "userName": "amy", "externalId": "I1"}).
		wantStatus(t, http.StatusCreated)

	for _, tc := range []struct {
		name                            string
		query                           string
		wantIDs                         string
		total, itemsPerPage, startIndex int
	}{
		{"all", "", "[E1 E2 E3 E4]", 4, 4, 1},
		{"first page", "?startIndex=1&count=2", "[E1 E2]", 4, 2, 1},
		{"second page", "?startIndex=3&count=2", "[E3 E4]", 4, 2, 3},
		{"partial page", "?startIndex=4&count=2", "[E4]", 4, 1, 4},
		{"past the end", "?startIndex=9", "[]", 4, 0, 9},
		{"startIndex below 1 is 1", "?startIndex=0&count=1", "[E1]", 4, 1, 1},
		{"count 0 gives the total only", "?count=0", "[]", 4, 0, 1},
		{"negative count is 0", "?count=-5", "[]", 4, 0, 1},
		{"userName, case-insensitively", "?filter=" + q(`userName eq "BEN"`), "[E2]", 1, 1, 1},
		{"userName with the core URN", "?filter=" + q(`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "cat"`), "[E3]", 1, 1, 1},
		{"externalId", "?filter=" + q(`externalId eq "E4"`), "[E4]", 1, 1, 1},
		{"externalId is case-exact", "?filter=" + q(`externalId eq "e4"`), "[]", 0, 0, 1},
		{"id", "?filter=" + q(`id eq "E1"`), "[E1]", 1, 1, 1},
		{"and", "?filter=" + q(`userName eq "amy" and id eq "E1"`), "[E1]", 1, 1, 1},
		{"and that cannot match", "?filter=" + q(`id eq "E1" and id eq "E2"`), "[]", 0, 0, 1},
		{"no match", "?filter=" + q(`userName eq "zed"`), "[]", 0, 0, 1},
		{"deleted users are hidden", "?filter=" + q(`userName eq "eve"`), "[]", 0, 0, 1},
		{"escaped quote", "?filter=" + q(`userName eq "a\"b"`), "[]", 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, http.MethodGet, "/scim/v2/Users"+tc.query, nil).wantStatus(t, http.StatusOK)
			if fmt.Sprint(r.body["schemas"]) != "[urn:ietf:params:scim:api:messages:2.0:ListResponse]" {
				t.Errorf("schemas %v", r.body["schemas"])
			}
			got := ids(t, r)
			if got == nil {
				got = []string{}
			}
			if fmt.Sprint(got) != tc.wantIDs {
				t.Errorf("ids %v, want %s", got, tc.wantIDs)
			}
			for k, want := range map[string]int{"totalResults": tc.total, "itemsPerPage": tc.itemsPerPage, "startIndex": tc.startIndex} {
				if r.body[k] != float64(want) {
					t.Errorf("%s %v, want %d", k, r.body[k], want)
				}
			}
			if _, ok := r.body["Resources"].([]any); !ok {
				t.Errorf("Resources missing: %s", r.raw)
			}
		})
	}
	// count above the maximum is the maximum.
	r := b.do(t, http.MethodGet, "/scim/v2/Users?count=5000", nil).wantStatus(t, http.StatusOK)
	if r.body["itemsPerPage"] != float64(4) {
		t.Errorf("itemsPerPage %v", r.body["itemsPerPage"])
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, query, scimType, detail string
	}{
		{"or", "?filter=" + q(`userName eq "a" or userName eq "b"`), scimsource.InvalidFilter, `"or" is not supported; deprov supports userName eq`},
		{"operator", "?filter=" + q(`userName sw "a"`), scimsource.InvalidFilter, `operator "sw" is not supported`},
		{"attribute", "?filter=" + q(`title eq "a"`), scimsource.InvalidFilter, `attribute "title" cannot be filtered on`},
		{"value path", "?filter=" + q(`emails[value eq "a"]`), scimsource.InvalidFilter, "only comparisons are supported"},
		{"not", "?filter=" + q(`not (userName eq "a")`), scimsource.InvalidFilter, "only comparisons are supported"},
		{"number", "?filter=" + q(`userName eq 5`), scimsource.InvalidFilter, "the value must be a string"},
		{"present", "?filter=" + q(`userName pr`), scimsource.InvalidFilter, `operator "pr" is not supported`},
		{"syntax", "?filter=" + q(`userName eq`), scimsource.InvalidFilter, `filter "userName eq" is not a valid SCIM filter`},
		{"garbage", "?filter=" + q(`((((`), scimsource.InvalidFilter, "is not a valid SCIM filter"},
		{"startIndex", "?startIndex=one", scimsource.InvalidValue, `startIndex must be an integer, got "one"`},
		{"count", "?count=1.5", scimsource.InvalidValue, `count must be an integer, got "1.5"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.do(t, http.MethodGet, "/scim/v2/Users"+tc.query, nil).wantError(t, http.StatusBadRequest, tc.scimType, tc.detail)
		})
	}
}
