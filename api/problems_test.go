package api

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/deprov/deprov/store"
)

func TestProblemDetails(t *testing.T) {
	b := setup(t)
	b.seed(t)
	admin := b.tok[store.RoleAdmin]
	locations := func(p problem) []string {
		var out []string
		for _, e := range p.Errors {
			out = append(out, e.Location)
		}
		return out
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		// locations the problem must name (in any order, among others)
		want []string
		// detail must contain this
		detail string
	}{
		{name: "invalid cron in a rule", method: http.MethodPut, path: "/api/v1/rules/leavers",
			body:   `{"trigger":{"statuses":["TERMINATED"]},"schedule":{"cron":"0 25 * * *","timezone":"Europe/Berlin"}}`,
			status: http.StatusUnprocessableEntity, want: []string{"body.schedule.cron"}},
		{name: "every problem of a rule at once", method: http.MethodPut, path: "/api/v1/rules/leavers",
			body:   `{"trigger":{},"gracePeriodDays":-1,"processAllocationSize":999,"schedule":{"cron":"0 0 2 * * ?","timezone":"Mars/Olympus"},"scope":"user.status =="}`,
			status: http.StatusUnprocessableEntity,
			want:   []string{"body.trigger", "body.gracePeriodDays", "body.processAllocationSize", "body.schedule.timezone", "body.scope"}},
		{name: "whole configuration", method: http.MethodPost, path: "/api/v1/config?dryRun=true",
			body:   `{"rules":[{"id":"a","trigger":{"statuses":["X"]}},{"id":"b","trigger":{"statuses":["X"]},"schedule":{"cron":"61 * * * *"}}]}`,
			status: http.StatusUnprocessableEntity, want: []string{"body.rules[1].schedule.cron"}},
		{name: "a change that breaks another item", method: http.MethodDelete, path: "/api/v1/applications/gitlab",
			status: http.StatusUnprocessableEntity, want: []string{"config.rules[0].excludeApplications[0]"}, detail: "nothing was changed"},
		{name: "wrong type", method: http.MethodPut, path: "/api/v1/rules/leavers",
			body: `{"trigger":{"statuses":["X"]},"gracePeriodDays":"seven"}`, status: http.StatusUnprocessableEntity,
			want: []string{"body.gracePeriodDays"}},
		{name: "id differs from the path", method: http.MethodPut, path: "/api/v1/rules/leavers",
			body: `{"id":"joiners","trigger":{"statuses":["X"]}}`, status: http.StatusUnprocessableEntity, want: []string{"body.id"}},
		{name: "malformed JSON", method: http.MethodPut, path: "/api/v1/rules/leavers", body: `{"trigger":`,
			status: http.StatusBadRequest},
		{name: "unknown rule", method: http.MethodGet, path: "/api/v1/rules/nope", status: http.StatusNotFound, detail: `no rule "nope"`},
		{name: "run an unknown rule", method: http.MethodPost, path: "/api/v1/rules/nope/run", status: http.StatusNotFound},
		{name: "unknown run", method: http.MethodPost, path: "/api/v1/runs/4242/approve", status: http.StatusNotFound},
		{name: "approve a run that is not quarantined", method: http.MethodPost, path: "/api/v1/runs/1/approve",
			status: http.StatusUnprocessableEntity, detail: "only a quarantined run"},
		{name: "revoke an unknown token", method: http.MethodDelete, path: "/api/v1/tokens/4242", status: http.StatusNotFound},
		{name: "bad role for a token", method: http.MethodPost, path: "/api/v1/tokens", body: `{"name":"x","role":"root"}`,
			status: http.StatusUnprocessableEntity, want: []string{"body.role"}},
		{name: "bad time filter", method: http.MethodGet, path: "/api/v1/audit?from=yesterday", status: http.StatusUnprocessableEntity,
			want: []string{"query.from"}},
		{name: "bad revocation state", method: http.MethodGet, path: "/api/v1/revocations?state=scheduled,gone",
			status: http.StatusUnprocessableEntity, want: []string{"query.state"}},
		{name: "unknown route", method: http.MethodGet, path: "/api/v1/nothing-here", status: http.StatusNotFound},
	}
	// The rule excludes gitlab, so that removing gitlab breaks it.
	if r := b.do(t, http.MethodPut, "/api/v1/rules/leavers", admin,
		`{"name":"Leavers","trigger":{"statuses":["TERMINATED"]},"excludeApplications":[{"application":"gitlab"}]}`); r.status != http.StatusOK {
		t.Fatalf("put rule: %d %s", r.status, r.body)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _, err := b.st.Config(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p := wantProblem(t, b.do(t, tc.method, tc.path, admin, tc.body), tc.status)
			got := locations(p)
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("problem names %q, want %q among them (detail %q)", got, w, p.Detail)
				}
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tc.detail)
			}
			for _, e := range p.Errors {
				if e.Message == "" {
					t.Errorf("error at %s has no message", e.Location)
				}
			}
			after, _, err := b.st.Config(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Error("a refused request changed the configuration")
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.MaxBodyBytes = 4096 })
	big := `{"name":"` + strings.Repeat("x", 8192) + `","trigger":{"statuses":["X"]}}`
	for _, path := range []string{"/api/v1/rules/big", "/api/v1/sources/big"} {
		wantProblem(t, b.do(t, http.MethodPut, path, adminSecret, big), http.StatusRequestEntityTooLarge)
	}
	wantProblem(t, b.do(t, http.MethodPost, "/api/v1/config", adminSecret, `{"rules":[`+strings.Repeat(`{"id":"x"},`, 1000)+`]}`),
		http.StatusRequestEntityTooLarge)
	// Under the limit it is an ordinary request.
	if r := b.do(t, http.MethodPut, "/api/v1/rules/small", adminSecret, `{"trigger":{"statuses":["X"]}}`); r.status != http.StatusOK {
		t.Errorf("small body: %d %s", r.status, r.body)
	}
}

func TestScrubRemovesConfiguredSecrets(t *testing.T) {
	b := setup(t)
	b.seed(t)
	msg := "target said: token " + litSecret + " and " + envSecret + " and " + srcSecret + " are wrong"
	got := b.a.scrub(context.Background(), msg)
	for _, s := range []string{litSecret, envSecret, srcSecret} {
		if strings.Contains(got, s) {
			t.Errorf("scrub kept %q: %s", s, got)
		}
	}
	if !strings.Contains(got, "target said: token [redacted]") {
		t.Errorf("scrub mangled the message: %s", got)
	}
}
