package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/store"
)

func TestFieldKey(t *testing.T) {
	t.Parallel()
	r := config.Rule{ExcludeApplications: []config.Exclusion{{Application: "github"}, {Application: "legacy-erp"}}}
	for _, tc := range []struct{ loc, want string }{
		{"body.schedule.cron", "schedule.cron"},
		{"body.schedule.timezone", "schedule.timezone"},
		{"body.trigger.statuses[2]", "trigger.statuses"},
		{"body.trigger.endDate.offsetDays", "trigger.endDate"},
		{"body.trigger.hook.cel", "trigger.hook.cel"},
		{"body.excludeApplications[1]", "exclude.legacy-erp"},
		{"body.excludeApplications[0].until", "exclude.github.until"},
		{"body.excludeApplications[7]", ""},
		{"body.action.applications.slack", "action.slack"},
		{"body.gracePeriodDays", "gracePeriodDays"},
		{"body.safety.maxPercent", "safety.maxPercent"},
		{"path.id", "id"},
		{"body.id", "id"},
		{"body", ""},
		{"config.rules[2].excludeApplications[0]", ""},
		{"body.somethingNew", ""},
	} {
		if got := fieldKey(tc.loc, r); got != tc.want {
			t.Errorf("fieldKey(%q) = %q, want %q", tc.loc, got, tc.want)
		}
	}
}

func TestFormRoundTrip(t *testing.T) {
	t.Parallel()
	apps := []config.Application{{ID: "github", Name: "GitHub"}, {ID: "slack"}}
	n, users, pct := 8, 20, 2.5
	r := config.Rule{ID: "leavers", Name: "Leavers", Scope: `user.department != "board"`, Immediate: true,
		Trigger: config.Trigger{Statuses: []string{"TERMINATED", "INACTIVE"}, EndDate: &config.EndDateTrigger{OffsetDays: -3},
			Hook: &config.Hook{URL: "https://hooks.example.com/x", TimeoutSeconds: 15}},
		ExcludeApplications:   []config.Exclusion{{Application: "slack", Reason: "kept", Until: "2027-03-01T00:00:00Z"}, {Application: "gone"}},
		GracePeriodDays:       7,
		Action:                config.RuleAction{Default: "disable", Applications: map[string]string{"github": "delete"}},
		ProcessAllocationSize: &n, Safety: config.Safety{MaxUsers: &users, MaxPercent: &pct},
		Schedule: &config.Schedule{Cron: "0 0 2 * * ?", Timezone: "Europe/Berlin", Active: true},
	}
	f := formFromRule(r, apps)
	if len(f.Apps) != 3 || f.Apps[2].ID != "gone" || f.Apps[2].Known {
		t.Fatalf("rows: %+v", f.Apps)
	}
	// What the browser would send back for this form.
	v := map[string][]string{"name": {f.Name}, "statuses": {f.Statuses}, "endDateOn": {"1"}, "endDateOffset": {f.EndDateOffset},
		"hookKind": {f.HookKind}, "hookUrl": {f.HookURL}, "hookTimeout": {f.HookTimeout}, "scope": {f.Scope},
		"grace": {f.GraceDays}, "actionDefault": {f.ActionDefault}, "allocation": {f.Allocation}, "maxUsers": {f.MaxUsers},
		"maxPercent": {f.MaxPercent}, "immediate": {"1"}, "cron": {f.Cron}, "timezone": {f.Timezone}, "active": {"1"}}
	for _, row := range f.Apps {
		v["app"] = append(v["app"], row.ID)
		if row.Excluded {
			v["exclude"] = append(v["exclude"], row.ID)
		}
		v["reason."+row.ID], v["until."+row.ID], v["action."+row.ID] = []string{row.Reason}, []string{row.Until}, []string{row.Action}
	}
	back := formFromPost(v, apps, "leavers", false)
	got := back.rule()
	if len(back.Problems) > 0 {
		t.Fatalf("problems: %+v", back.Problems)
	}
	if fingerprint(got) != fingerprint(r) {
		t.Errorf("the editor does not round-trip the rule:\n got %+v\nwant %+v", got, r)
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var revs []store.Revocation
	for i, grace := range []int{14, 3, 7} {
		created := now.Add(-time.Duration(i) * 24 * time.Hour)
		revs = append(revs, store.Revocation{ID: int64(i + 1), RuleID: fmt.Sprintf("r%d", grace), UserName: fmt.Sprintf("u%d", i),
			ApplicationID: "github", Action: "disable", State: store.Scheduled, CreatedAt: created, DueAt: created.AddDate(0, 0, grace)})
	}
	revs[2].State = store.Waiting
	tl := newTimeline(revs, now, map[string]int{"r3": 3, "r7": 7, "r14": 14})
	if len(tl.Bars) != 3 {
		t.Fatalf("%d bars", len(tl.Bars))
	}
	// Sorted by due time; each bar runs from creation to due time.
	for i, want := range []string{"u1", "u2", "u0"} {
		b := tl.Bars[i]
		if b.Label != want {
			t.Errorf("bar %d is %s, want %s", i, b.Label, want)
		}
		if b.X < tl.PlotX || b.DueX > tl.PlotEnd || b.W <= 0 || b.DueX < b.X {
			t.Errorf("bar %d out of the plot: %+v", i, b)
		}
		if i > 0 && b.DueX <= tl.Bars[i-1].DueX {
			t.Errorf("bar %d is due before bar %d", i, i-1)
		}
	}
	if tl.Bars[1].State != "waiting" || !strings.Contains(tl.Bars[2].Title, "grace period 14 days") {
		t.Errorf("bars: %+v", tl.Bars)
	}
	if tl.NowX <= tl.PlotX || tl.NowX >= tl.PlotEnd || len(tl.Ticks) < 3 {
		t.Errorf("now at %v, %d ticks", tl.NowX, len(tl.Ticks))
	}
	if newTimeline(nil, now, nil) != nil {
		t.Error("a timeline of nothing")
	}
	many := make([]store.Revocation, maxBars+5)
	for i := range many {
		many[i] = store.Revocation{ID: int64(i), CreatedAt: now, DueAt: now.Add(time.Duration(i) * time.Hour), State: store.Scheduled}
	}
	if tl := newTimeline(many, now, nil); len(tl.Bars) != maxBars || tl.More != 5 {
		t.Errorf("%d bars, %d more", len(tl.Bars), tl.More)
	}
}

// The audit page shows the newest events first and pages back through the
// whole chain without gaps or repeats, with and without filters.
func TestAuditPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 250 {
		rule := "even"
		if i%2 == 1 {
			rule = "odd"
		}
		if err := b.st.AppendAudit(b.ctx, audit.Event{Actor: "test", Action: "test.event", RuleID: rule, Message: fmt.Sprintf("event %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := b.st.ListAudit(b.ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.AuditQuery{{}, {RuleID: "odd"}, {Action: "token."}} {
		want, _ := b.st.ListAudit(b.ctx, q)
		var seen []int64
		before := int64(0)
		for range 10 {
			evs, older, err := b.c.latestAudit(b.ctx, q, before)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				seen = append(seen, e.Seq)
			}
			if older == 0 {
				break
			}
			before = older
		}
		if len(seen) != len(want) {
			t.Fatalf("%+v: paged through %d events, want %d", q, len(seen), len(want))
		}
		for i, s := range seen {
			if w := want[len(want)-1-i].Seq; s != w {
				t.Fatalf("%+v: event %d is #%d, want #%d", q, i, s, w)
			}
		}
	}
	c := b.login(t, store.RoleAuditor)
	p := c.get(t, "/audit")
	if p.status != http.StatusOK || !strings.Contains(p.body, fmt.Sprintf(">%d<", all[len(all)-1].Seq)) || !strings.Contains(p.body, `id="older"`) {
		t.Errorf("the audit page does not start at the newest event")
	}
	if p := c.get(t, "/audit?from=yesterday"); !strings.Contains(p.body, "is not a date") {
		t.Error("a bad date filter is not reported")
	}
}
