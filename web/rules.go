package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/schedule"
	"github.com/deprov/deprov/store"
)

// ruleRow is one rule in the list.
type ruleRow struct {
	ID, Name  string
	Active    bool
	Schedule  *config.Schedule
	Next      time.Time
	Trigger   string
	Grace     int
	Immediate bool
	// Pending counts the rule's revocations still to happen.
	Pending int
}

func (c *Console) rulesPage(w http.ResponseWriter, r *http.Request, v *view) {
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	pending := map[string]int{}
	counts, err := c.st.CountRevocations(r.Context(), store.Active...)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	for _, n := range counts {
		pending[n.RuleID] += n.N
	}
	rows := make([]ruleRow, 0, len(cfg.Rules))
	for _, ru := range cfg.Rules {
		row := ruleRow{ID: ru.ID, Name: cmpStr(ru.Name, ru.ID), Schedule: ru.Schedule, Trigger: triggerSummary(ru.Trigger),
			Grace: ru.GracePeriodDays, Immediate: ru.Immediate, Pending: pending[ru.ID]}
		if s := ru.Schedule; s != nil && s.Active {
			row.Active = true
			if next, err := fireTimes(s.Cron, s.Timezone, v.Now, 1); err == nil && len(next) > 0 {
				row.Next = next[0]
			}
		}
		rows = append(rows, row)
	}
	v.Title, v.Nav = "Rules", "rules"
	c.render(w, http.StatusOK, "rules", v, rows)
}

// triggerSummary says in a few words what fires a rule.
func triggerSummary(t config.Trigger) string {
	var parts []string
	if len(t.Statuses) > 0 {
		parts = append(parts, "status "+strings.Join(t.Statuses, " or "))
	}
	if ed := t.EndDate; ed != nil {
		parts = append(parts, fmt.Sprintf("end date %+d days", ed.OffsetDays))
	}
	if h := t.Hook; h != nil {
		if h.URL != "" {
			parts = append(parts, "URL hook")
		} else {
			parts = append(parts, "CEL hook")
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, "; ")
}

// fireTimes computes the next n fire times of a schedule, in its zone.
func fireTimes(cron, tz string, after time.Time, n int) ([]time.Time, error) {
	loc, err := schedule.LoadTimezone(tz)
	if err != nil {
		return nil, err
	}
	s, err := schedule.Parse(cron, loc)
	if err != nil {
		return nil, err
	}
	out := s.NextN(after, n)
	for i := range out {
		out[i] = out[i].In(loc)
	}
	return out, nil
}

// ruleData is the rule page's data: the editor (or, for those who may not
// edit, the same fields read-only), the scheduler's preview and the rule's
// recent runs.
type ruleData struct {
	Form  ruleForm
	Zones []string
	// Fire are the next fire times of the form's schedule; FireErr says
	// why there are none.
	Fire    []time.Time
	FireErr string
	Syntax  string
	// Stored is the rule as stored (zero for a new rule).
	Stored  config.Rule
	Exists  bool
	Active  bool
	Trigger string
	Runs    []store.Run
	Pending int
}

func (c *Console) newRulePage(w http.ResponseWriter, r *http.Request, v *view) {
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	f := formFromRule(config.Rule{}, cfg.Applications)
	f.New, f.Base = true, ""
	c.renderRule(w, r, v, http.StatusOK, f, config.Rule{}, false)
}

func (c *Console) rulePage(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	ru, ok := cfg.Rule(id)
	if !ok {
		c.notFound(w, r, v, fmt.Sprintf("There is no rule %q.", id))
		return
	}
	c.renderRule(w, r, v, http.StatusOK, formFromRule(ru, cfg.Applications), ru, true)
}

func (c *Console) renderRule(w http.ResponseWriter, r *http.Request, v *view, status int, f ruleForm, stored config.Rule, exists bool) {
	d := ruleData{Form: f, Zones: c.zones, Stored: stored, Exists: exists, Trigger: triggerSummary(stored.Trigger)}
	d.Active = exists && stored.Schedule != nil && stored.Schedule.Active
	if f.Cron != "" {
		fire, err := fireTimes(f.Cron, f.Timezone, v.Now, 5)
		if err != nil {
			d.FireErr = err.Error()
		}
		d.Fire = fire
		d.Syntax = "crontab"
		if n := len(strings.Fields(f.Cron)); n == 6 || n == 7 {
			d.Syntax = "Quartz"
		}
	}
	if exists {
		runs, err := c.st.ListRuns(r.Context(), store.RunQuery{RuleID: stored.ID, Limit: 10})
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		d.Runs = runs
		counts, err := c.st.CountRevocations(r.Context(), store.Active...)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		for _, n := range counts {
			if n.RuleID == stored.ID {
				d.Pending += n.N
			}
		}
	}
	v.Nav = "rules"
	switch {
	case f.New:
		v.Title = "New rule"
	default:
		v.Title = cmpStr(stored.Name, stored.ID)
	}
	c.render(w, status, "rule", v, d)
}

func (c *Console) createRule(w http.ResponseWriter, r *http.Request, v *view) {
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	id := strings.TrimSpace(r.PostFormValue("id"))
	f := formFromPost(r.PostForm, cfg.Applications, id, true)
	switch _, exists := cfg.Rule(id); {
	case id == "":
		f.addError("id", "required")
	case exists:
		f.addError("id", fmt.Sprintf("a rule %q exists already; choose another id or edit that rule", id))
	}
	c.putRule(w, r, v, f, config.Rule{}, false)
}

func (c *Console) saveRule(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	stored, ok := cfg.Rule(id)
	if !ok {
		c.notFound(w, r, v, fmt.Sprintf("There is no rule %q: it may have been removed.", id))
		return
	}
	f := formFromPost(r.PostForm, cfg.Applications, id, false)
	if f.Base != fingerprint(stored) {
		f.addError("", "Someone changed this rule since you opened it, so nothing was saved. "+
			"Open the rule again to see the change, then make yours.")
		f.Base = fingerprint(stored)
		c.renderRule(w, r, v, http.StatusConflict, f, stored, true)
		return
	}
	c.putRule(w, r, v, f, stored, true)
}

// draftID stands in for a new rule's missing id while the rest of the
// form is validated (a dry run: nothing is stored under it).
const draftID = "console-draft-rule"

// putRule saves the form's rule through the API's PUT /api/v1/rules/{id},
// which validates the whole resulting configuration exactly as `deprov
// apply` does. With problems found in the form itself it still asks the API
// (as a dry run) so that every problem shows at once, and saves nothing.
func (c *Console) putRule(w http.ResponseWriter, r *http.Request, v *view, f ruleForm, stored config.Rule, exists bool) {
	ru := f.rule()
	dry := len(f.Problems) > 0
	id := f.ID
	if id == "" {
		id, ru.ID = draftID, draftID
	}
	path := "/api/v1/rules/" + url.PathEscape(id)
	if dry {
		path += "?dryRun=true"
	}
	err := c.call(r, http.MethodPut, path, ru, nil)
	var p *problem
	switch {
	case errors.As(err, &p) && p.Status == http.StatusUnprocessableEntity:
		f.addProblems(p, ru)
	case err != nil:
		f.addError("", errorText(err))
	}
	if len(f.Problems) > 0 {
		c.renderRule(w, r, v, http.StatusUnprocessableEntity, f, stored, exists)
		return
	}
	verb := "saved"
	if f.New {
		verb = "created"
	}
	msg := fmt.Sprintf("Rule %q %s.", cmpStr(ru.Name, ru.ID), verb)
	if s := ru.Schedule; s != nil && s.Active {
		msg += " Its schedule is active."
	}
	done(w, r, "/rules/"+url.PathEscape(f.ID), msg, nil)
}

// setActive turns a rule's schedule on or off, leaving the rest of the
// rule as stored.
func (c *Console) setActive(on bool) func(http.ResponseWriter, *http.Request, *view) {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		id := r.PathValue("id")
		to := back(r, "/rules/"+url.PathEscape(id))
		cfg, _, err := c.st.Config(r.Context())
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		ru, ok := cfg.Rule(id)
		if !ok {
			done(w, r, "/rules", "", fmt.Errorf("there is no rule %q", id))
			return
		}
		if ru.Schedule == nil {
			done(w, r, to, "", fmt.Errorf("rule %q has no schedule: set a cron expression in its Scheduler panel first", id))
			return
		}
		sch := *ru.Schedule
		sch.Active = on
		ru.Schedule = &sch
		if err := c.call(r, http.MethodPut, "/api/v1/rules/"+url.PathEscape(id), ru, nil); err != nil {
			done(w, r, to, "", err)
			return
		}
		msg := fmt.Sprintf("Rule %q deactivated: its schedule no longer fires (it can still be run by hand).", cmpStr(ru.Name, id))
		if on {
			msg = fmt.Sprintf("Rule %q activated.", cmpStr(ru.Name, id))
			if next, err := fireTimes(sch.Cron, sch.Timezone, v.Now, 1); err == nil && len(next) > 0 {
				msg += " It next fires " + fmtZoned(next[0]) + "."
			}
		}
		done(w, r, to, msg, nil)
	}
}

func (c *Console) deleteRule(w http.ResponseWriter, r *http.Request, _ *view) {
	id := r.PathValue("id")
	if err := c.call(r, http.MethodDelete, "/api/v1/rules/"+url.PathEscape(id), nil, nil); err != nil {
		done(w, r, "/rules/"+url.PathEscape(id), "", err)
		return
	}
	done(w, r, "/rules", fmt.Sprintf("Rule %q removed. Its runs and audit events are kept.", id), nil)
}

// planData is the plan page's data: a dry run or a stored run.
type planData struct {
	Run      store.Run
	RuleName string
	Dry      bool
	Items    []rule.Item
	// Hidden counts plan lines not shown (the page shows the first maxPlanRows).
	Hidden      int
	Revocations []store.Revocation
	// RevByItem finds the revocation a plan line became.
	RevByItem map[string]store.Revocation
	Undoable  bool
}

// maxPlanRows bounds a plan table; the counts always cover the whole plan.
const maxPlanRows = 2000

func (c *Console) dryRun(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	var rv api.RunView
	if err := c.call(r, http.MethodPost, "/api/v1/rules/"+url.PathEscape(id)+"/run", map[string]bool{"dryRun": true}, &rv); err != nil {
		done(w, r, "/rules/"+url.PathEscape(id), "", fmt.Errorf("dry run of rule %s failed: %s", id, errorText(err)))
		return
	}
	d := planData{Run: rv.Run, Dry: true, RuleName: c.ruleName(r, id)}
	d.Items, d.Hidden = capItems(rv.Items)
	v.Title, v.Nav = "Dry run of "+d.RuleName, "rules"
	c.render(w, http.StatusOK, "plan", v, d)
}

func capItems(items []rule.Item) ([]rule.Item, int) {
	if len(items) > maxPlanRows {
		return items[:maxPlanRows], len(items) - maxPlanRows
	}
	return items, 0
}

func (c *Console) runRule(w http.ResponseWriter, r *http.Request, _ *view) {
	id := r.PathValue("id")
	var rv api.RunView
	if err := c.call(r, http.MethodPost, "/api/v1/rules/"+url.PathEscape(id)+"/run", map[string]bool{"dryRun": false}, &rv); err != nil {
		done(w, r, "/rules/"+url.PathEscape(id), "", fmt.Errorf("run of rule %s failed: %s", id, errorText(err)))
		return
	}
	if rv.ID == 0 {
		done(w, r, "/rules/"+url.PathEscape(id), fmt.Sprintf("Rule %s ran: nothing to do.", id), nil)
		return
	}
	msg := fmt.Sprintf("Run %d of rule %s: %s for %s.", rv.ID, id,
		plural(rv.Counts.Planned, "revocation", "revocations"), plural(rv.Counts.Users, "user", "users"))
	if rv.State == store.RunQuarantined {
		msg = fmt.Sprintf("Run %d of rule %s is quarantined (%s): nothing is scheduled until an operator approves it.", rv.ID, id, rv.Error)
	}
	done(w, r, fmt.Sprintf("/runs/%d", rv.ID), msg, nil)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ruleName is a rule's display name, or its id.
func (c *Console) ruleName(r *http.Request, id string) string {
	cfg, _, err := c.st.Config(r.Context())
	if err != nil {
		return id
	}
	if ru, ok := cfg.Rule(id); ok {
		return cmpStr(ru.Name, id)
	}
	return id
}
