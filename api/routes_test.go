package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

func TestRuleWritesApplyAsDeprovApply(t *testing.T) {
	b := setup(t)
	b.seed(t)
	admin := b.tok[store.RoleAdmin]
	body := `{"name":"Contractors","trigger":{"endDate":{"offsetDays":1}},"gracePeriodDays":3,
		"schedule":{"cron":"0 0 12 ? * 1","timezone":"Europe/Berlin","active":true},"safety":{"maxUsers":10}}`
	dry := b.do(t, http.MethodPut, "/api/v1/rules/contractors?dryRun=true", admin, body)
	if dry.status != http.StatusOK {
		t.Fatalf("dry put: %d %s", dry.status, dry.body)
	}
	if cfg, _, _ := b.st.Config(b.ctx); len(cfg.Rules) != 1 {
		t.Fatal("a dry-run PUT stored the rule")
	}
	r := b.do(t, http.MethodPut, "/api/v1/rules/contractors", admin, body)
	if r.status != http.StatusOK {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	var v RuleView
	r.json(t, &v)
	// Sunday 29 November 2026, noon in Berlin.
	if v.ID != "contractors" || v.NextFireAt == nil || !v.NextFireAt.Equal(time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("put answered %+v (next %v)", v, v.NextFireAt)
	}
	var got RuleView
	b.do(t, http.MethodGet, "/api/v1/rules/contractors", b.tok[store.RoleAuditor], "").json(t, &got)
	if got.GracePeriodDays != 3 || got.Schedule == nil || got.Schedule.Cron != "0 0 12 ? * 1" {
		t.Errorf("stored rule %+v", got)
	}
	// The rule that was there stays, in its place.
	var rules list[RuleView]
	b.do(t, http.MethodGet, "/api/v1/rules", admin, "").json(t, &rules)
	if len(rules.Items) != 2 || rules.Items[0].ID != "leavers" || rules.Items[1].ID != "contractors" {
		t.Errorf("rules %+v", rules.Items)
	}
	// Deactivate it: the response round-trips, nextFireAt included.
	edited := strings.Replace(string(r.body), `"active":true`, `"active":false`, 1)
	r = b.do(t, http.MethodPut, "/api/v1/rules/contractors", admin, edited)
	var off RuleView
	r.json(t, &off)
	if r.status != http.StatusOK || off.Schedule.Active || off.NextFireAt != nil {
		t.Errorf("deactivate: %d %s", r.status, r.body)
	}
	if r := b.do(t, http.MethodDelete, "/api/v1/rules/contractors", admin, ""); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	wantProblem(t, b.do(t, http.MethodGet, "/api/v1/rules/contractors", admin, ""), http.StatusNotFound)
	// Every change is audited with the token as actor.
	evs, err := b.st.ListAudit(b.ctx, store.AuditQuery{Action: "config.applied"})
	if err != nil {
		t.Fatal(err)
	}
	byToken := 0
	for _, ev := range evs {
		if ev.Actor == "token:bootstrap-admin" {
			byToken++
		}
	}
	if byToken != 3 {
		t.Errorf("%d config.applied events by token:bootstrap-admin, want 3 (put, deactivate, delete): %+v", byToken, evs)
	}
}

func TestOperatorActions(t *testing.T) {
	b := setup(t)
	b.seed(t)
	op := b.tok[store.RoleOperator]
	// A dry run shows the plan and changes nothing.
	r := b.do(t, http.MethodPost, "/api/v1/rules/leavers/run", op, `{"dryRun":true}`)
	var dry RunView
	r.json(t, &dry)
	if r.status != http.StatusOK || dry.ID != 0 || dry.Counts.Matched != 2 || len(dry.Items) != 4 {
		t.Fatalf("dry run: %d %s", r.status, r.body)
	}
	// Cancel one revocation, with a reason.
	r = b.do(t, http.MethodPost, "/api/v1/revocations/"+itoa(b.revIDs[0])+"/cancel", op, `{"reason":"kept for the handover"}`)
	var rev store.Revocation
	r.json(t, &rev)
	if r.status != http.StatusOK || rev.State != store.Cancelled || !strings.Contains(rev.CancelReason, "kept for the handover") {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	// Cancelling it again is refused.
	wantProblem(t, b.do(t, http.MethodPost, "/api/v1/revocations/"+itoa(b.revIDs[0])+"/cancel", op, ""), http.StatusUnprocessableEntity)
	// Undo the run: the other revocation, still scheduled, is cancelled.
	r = b.do(t, http.MethodPost, "/api/v1/runs/"+itoa(b.runID)+"/undo", op, "")
	if r.status != http.StatusOK {
		t.Fatalf("undo: %d %s", r.status, r.body)
	}
	// Filters of the revocation list.
	var revs list[store.Revocation]
	b.do(t, http.MethodGet, "/api/v1/revocations?state=cancelled&rule=leavers", b.tok[store.RoleAuditor], "").json(t, &revs)
	if len(revs.Items) != 2 {
		t.Errorf("cancelled revocations: %+v", revs.Items)
	}
	// Sync and aggregate through the API.
	if r := b.do(t, http.MethodPost, "/api/v1/sources/hr/sync", op, ""); r.status != http.StatusOK {
		t.Errorf("sync: %d %s", r.status, r.body)
	}
	if r := b.do(t, http.MethodPost, "/api/v1/applications/github/aggregate", op, ""); r.status != http.StatusOK {
		t.Errorf("aggregate: %d %s", r.status, r.body)
	}
	// Each was audited as the operator's token.
	var evs list[audit.Event]
	b.do(t, http.MethodGet, "/api/v1/audit?limit=1000", b.tok[store.RoleAuditor], "").json(t, &evs)
	actions := map[string]bool{}
	for _, ev := range evs.Items {
		if ev.Actor == "token:test-operator" {
			actions[ev.Action] = true
		}
	}
	for _, a := range []string{"revocation.cancelled", "run.undo", "source.synced", "application.aggregated"} {
		if !actions[a] {
			t.Errorf("no %s event by token:test-operator (have %v)", a, actions)
		}
	}
	var v AuditVerification
	b.do(t, http.MethodGet, "/api/v1/audit/verify", b.tok[store.RoleAuditor], "").json(t, &v)
	if !v.OK || v.Events == 0 {
		t.Errorf("verify: %+v", v)
	}
	exp := b.do(t, http.MethodGet, "/api/v1/audit/export?format=csv&rule=leavers", b.tok[store.RoleAuditor], "")
	if exp.status != http.StatusOK || !strings.HasPrefix(exp.header.Get("Content-Type"), "text/csv") || !strings.Contains(string(exp.body), "#chain-head") {
		t.Errorf("export: %d %s %s", exp.status, exp.header.Get("Content-Type"), exp.body)
	}
}

func TestIdentityPaging(t *testing.T) {
	b := setup(t)
	b.seed(t)
	aud := b.tok[store.RoleAuditor]
	var page IdentityList
	b.do(t, http.MethodGet, "/api/v1/identities?source=hr&limit=2&count=true", aud, "").json(t, &page)
	if len(page.Items) != 2 || page.Next == "" || page.Total == nil || *page.Total != 3 {
		t.Fatalf("first page %+v", page)
	}
	var rest IdentityList
	b.do(t, http.MethodGet, "/api/v1/identities?source=hr&limit=2&after="+page.Next, aud, "").json(t, &rest)
	if len(rest.Items) != 1 || rest.Next != "" || rest.Items[0].UserName != "carol" {
		t.Errorf("second page %+v", rest)
	}
	var found IdentityList
	b.do(t, http.MethodGet, "/api/v1/identities?search=BO", aud, "").json(t, &found)
	if len(found.Items) != 1 || found.Items[0].UserName != "bob" {
		t.Errorf("search: %+v", found)
	}
	r := b.do(t, http.MethodGet, "/api/v1/identities/hr/2", aud, "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"userName":"bob"`) {
		t.Errorf("get identity: %d %s", r.status, r.body)
	}
	var accts list[struct {
		UserName string `json:"userName"`
	}]
	b.do(t, http.MethodGet, "/api/v1/accounts?application=github&identity=hr/2", aud, "").json(t, &accts)
	if len(accts.Items) != 1 || accts.Items[0].UserName != "bob" {
		t.Errorf("accounts of bob: %+v", accts)
	}
}

func TestCheckCELAndSchedulePreview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	aud := b.tok[store.RoleAuditor]
	var ok CELCheck
	b.do(t, http.MethodPost, "/api/v1/rules/check-cel", aud, `{"expression":"user.department != \"board\""}`).json(t, &ok)
	if !ok.OK || len(ok.Errors) != 0 {
		t.Errorf("valid expression: %+v", ok)
	}
	var bad CELCheck
	b.do(t, http.MethodPost, "/api/v1/rules/check-cel", aud, `{"expression":"user.status ==\n  && true"}`).json(t, &bad)
	if bad.OK || len(bad.Errors) == 0 || bad.Errors[0].Line != 2 || bad.Errors[0].Column == 0 || bad.Errors[0].Message == "" {
		t.Errorf("invalid expression: %+v", bad)
	}
	var typ CELCheck
	b.do(t, http.MethodPost, "/api/v1/rules/check-cel", aud, `{"expression":"1 + 2"}`).json(t, &typ)
	if typ.OK || len(typ.Errors) != 1 || !strings.Contains(typ.Errors[0].Message, "want bool") {
		t.Errorf("non-bool expression: %+v", typ)
	}

	var p SchedulePreview
	r := b.do(t, http.MethodGet, "/api/v1/schedule/preview?cron=0+0+12+%3F+*+1&timezone=Europe/Berlin&n=3&after=2026-11-26T00:00:00Z", aud, "")
	r.json(t, &p)
	want := []string{"2026-11-29T12:00:00+01:00", "2026-12-06T12:00:00+01:00", "2026-12-13T12:00:00+01:00"}
	if r.status != http.StatusOK || p.Syntax != "quartz" || len(p.Next) != 3 {
		t.Fatalf("preview: %d %s", r.status, r.body)
	}
	for i, w := range want {
		if got := p.Next[i].Format(time.RFC3339); got != w {
			t.Errorf("fire %d: %s, want %s", i, got, w)
		}
	}
	pr := wantProblem(t, b.do(t, http.MethodGet, "/api/v1/schedule/preview?cron=0+25+*+*+*&timezone=Nowhere/Land", aud, ""), http.StatusUnprocessableEntity)
	locs := map[string]bool{}
	for _, e := range pr.Errors {
		locs[e.Location] = true
	}
	if !locs["query.timezone"] {
		t.Errorf("preview problem names %v, want query.timezone", locs)
	}
	pr = wantProblem(t, b.do(t, http.MethodGet, "/api/v1/schedule/preview?cron=0+25+*+*+*", aud, ""), http.StatusUnprocessableEntity)
	if len(pr.Errors) != 1 || pr.Errors[0].Location != "query.cron" || !strings.Contains(pr.Errors[0].Message, "hour") {
		t.Errorf("preview problem %+v", pr)
	}
}
