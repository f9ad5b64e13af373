package scimsource_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/deprov/deprov/identity/scimsource"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, header, detail string
	}{
		{"none", "", "a bearer token is required"},
		{"wrong token", "Bearer not-" + hrToken, "not the token of any scim source"},
		{"basic", "Basic " + hrToken, "a bearer token is required"},
		{"empty bearer", "Bearer ", "a bearer token is required"},
		{"prefix of a token", "Bearer " + hrToken[:10], "not the token of any scim source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/scim/v2/Users", "/scim/v2/ServiceProviderConfig", "/scim/v2/Nope"} {
				req, _ := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := b.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", path, resp.StatusCode)
				}
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}
			b.doAs(t, "", http.MethodGet, "/scim/v2/Users", nil).wantError(t, http.StatusUnauthorized, "", "bearer token")
		})
	}
	b.doAs(t, "not-"+hrToken, http.MethodGet, "/scim/v2/Users", nil).wantError(t, http.StatusUnauthorized, "", "not the token of any scim source")
	b.doAs(t, "bearer-case", http.MethodGet, "/scim/v2/Users", nil).wantStatus(t, http.StatusUnauthorized)
	// "bearer" is case-insensitive.
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/scim/v2/Users", nil)
	req.Header.Set("Authorization", "bearer "+hrToken)
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: %d", resp.StatusCode)
	}
	for _, secret := range []string{hrToken, idpToken, "not-" + hrToken, hrToken[:10]} {
		if strings.Contains(b.logs.String(), secret) {
			t.Errorf("a token reached the log:\n%s", b.logs.String())
		}
	}
}

func TestSourcesAreIsolated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(t, http.StatusCreated)

	b.doAs(t, idpToken, http.MethodGet, "/scim/v2/Users/E1", nil).wantError(t, http.StatusNotFound, "", `user "E1" not found`)
	r := b.doAs(t, idpToken, http.MethodGet, "/scim/v2/Users?filter="+q(`userName eq "bob"`), nil).wantStatus(t, http.StatusOK)
	if r.body["totalResults"] != float64(0) {
		t.Errorf("idp sees hr's users: %s", r.raw)
	}
	b.doAs(t, idpToken, http.MethodDelete, "/scim/v2/Users/E1", nil).wantStatus(t, http.StatusNotFound)
	b.doAs(t, idpToken, http.MethodPatch, "/scim/v2/Users/E1", patchOp(map[string]any{"op": "replace", "path": "active", "value": false})).wantStatus(t, http.StatusNotFound)

	// userName is unique per source: idp may have its own bob, with the same externalId even.
	b.doAs(t, idpToken, http.MethodPost, "/scim/v2/Users", map[string]any{"schemas": []any{scimsource.URNUser}, "userName": "bob", "externalId": "E1"}).
		wantStatus(t, http.StatusCreated)
	if p := b.sink.last(t); p.sourceID != "idp" || p.idn.SourceID != "idp" || p.actor != "scim:idp" {
		t.Errorf("put %+v", p)
	}
	if got := b.sink.ids["hr"]["E1"].Status; got != "ACTIVE" {
		t.Errorf("hr's E1 changed: %q", got)
	}
}

func TestSharedTokenIsRefused(t *testing.T) {
	t.Parallel()
	srcs := testSources()
	srcs = append(srcs, srcs[1])
	srcs[len(srcs)-1].ID = "hr-copy"
	b := setupWith(t, newMemSink(), srcs)
	r := b.do(t, http.MethodGet, "/scim/v2/Users", nil)
	r.wantError(t, http.StatusInternalServerError, "", "more than one scim source")
}
