package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/deprov/deprov/config"
)

// ruleForm is the rule editor: every field of a rule as the person typed
// it, so that a form with a mistake comes back exactly as it was sent, with
// each problem next to its field.
type ruleForm struct {
	// New says the form creates a rule (its id is editable).
	New  bool
	ID   string
	Name string
	// Base fingerprints the rule as it was when the editor opened, so that
	// a save over someone else's change is refused instead of undoing it.
	Base string

	Statuses      string
	EndDateOn     bool
	EndDateOffset string
	// HookKind is "", "cel" or "url".
	HookKind    string
	HookCEL     string
	HookURL     string
	HookTimeout string
	Scope       string

	Apps          []appRow
	GraceDays     string
	ActionDefault string
	Allocation    string
	MaxUsers      string
	MaxPercent    string
	Immediate     bool

	Cron     string
	Timezone string
	Active   bool

	// Errors are the problems by field key (see fieldKey); "" holds those
	// that concern the whole rule.
	Errors map[string][]string
	// Problems lists every problem, in order, for the summary at the top.
	Problems []fieldProblem
}

// appRow is one application in the editor: excluded or not (with reason
// and expiry), and the rule's action there.
type appRow struct {
	ID, Name string
	// Known is false for an application the rule names but the
	// configuration no longer has.
	Known    bool
	Excluded bool
	Reason   string
	Until    string
	Action   string
}

// fieldProblem is a problem with the field it belongs to.
type fieldProblem struct {
	Field, Label, Message string
}

// actions a rule may take; "" means the default (the rule's, else the application's).
var actions = []string{"disable", "delete", "revoke"}

// formFromRule fills the editor from a stored rule.
func formFromRule(r config.Rule, apps []config.Application) ruleForm {
	f := ruleForm{ID: r.ID, Name: r.Name, Base: fingerprint(r), Scope: r.Scope, Immediate: r.Immediate,
		Statuses: strings.Join(r.Trigger.Statuses, ", "), GraceDays: strconv.Itoa(r.GracePeriodDays),
		ActionDefault: r.Action.Default}
	if ed := r.Trigger.EndDate; ed != nil {
		f.EndDateOn, f.EndDateOffset = true, strconv.Itoa(ed.OffsetDays)
	}
	if h := r.Trigger.Hook; h != nil {
		switch {
		case h.URL != "":
			f.HookKind = "url"
		default:
			f.HookKind = "cel"
		}
		f.HookCEL, f.HookURL = h.CEL, h.URL
		if h.TimeoutSeconds != 0 {
			f.HookTimeout = strconv.Itoa(h.TimeoutSeconds)
		}
	}
	if n := r.ProcessAllocationSize; n != nil {
		f.Allocation = strconv.Itoa(*n)
	}
	if m := r.Safety.MaxUsers; m != nil {
		f.MaxUsers = strconv.Itoa(*m)
	}
	if m := r.Safety.MaxPercent; m != nil {
		f.MaxPercent = strconv.FormatFloat(*m, 'f', -1, 64)
	}
	if s := r.Schedule; s != nil {
		f.Cron, f.Timezone, f.Active = s.Cron, s.Timezone, s.Active
	}
	excl := map[string]config.Exclusion{}
	for _, x := range r.ExcludeApplications {
		excl[x.Application] = x
	}
	f.Apps = appRows(apps, r, func(row *appRow) {
		if x, ok := excl[row.ID]; ok {
			row.Excluded, row.Reason, row.Until = true, x.Reason, x.Until
		}
		row.Action = r.Action.Applications[row.ID]
	})
	return f
}

// appRows lists the configured applications and then any application the
// rule names that the configuration does not have.
func appRows(apps []config.Application, r config.Rule, fill func(*appRow)) []appRow {
	var rows []appRow
	seen := map[string]bool{}
	for _, a := range apps {
		rows = append(rows, appRow{ID: a.ID, Name: cmpStr(a.Name, a.ID), Known: true})
		seen[a.ID] = true
	}
	var extra []string
	for _, x := range r.ExcludeApplications {
		extra = append(extra, x.Application)
	}
	for id := range r.Action.Applications {
		extra = append(extra, id)
	}
	slices.Sort(extra)
	for _, id := range slices.Compact(extra) {
		if !seen[id] {
			rows = append(rows, appRow{ID: id, Name: id})
		}
	}
	for i := range rows {
		fill(&rows[i])
	}
	return rows
}

// formFromPost reads the editor's fields. apps are the configured
// applications; rows for applications only the form names are kept too.
func formFromPost(v url.Values, apps []config.Application, id string, isNew bool) ruleForm {
	f := ruleForm{
		New: isNew, ID: id, Name: strings.TrimSpace(v.Get("name")), Base: v.Get("base"),
		Statuses: v.Get("statuses"), EndDateOn: v.Get("endDateOn") != "", EndDateOffset: strings.TrimSpace(v.Get("endDateOffset")),
		HookKind: v.Get("hookKind"), HookCEL: v.Get("hookCel"), HookURL: strings.TrimSpace(v.Get("hookUrl")),
		HookTimeout: strings.TrimSpace(v.Get("hookTimeout")), Scope: v.Get("scope"),
		GraceDays: strings.TrimSpace(v.Get("grace")), ActionDefault: v.Get("actionDefault"),
		Allocation: strings.TrimSpace(v.Get("allocation")), MaxUsers: strings.TrimSpace(v.Get("maxUsers")),
		MaxPercent: strings.TrimSpace(v.Get("maxPercent")), Immediate: v.Get("immediate") != "",
		Cron: strings.TrimSpace(v.Get("cron")), Timezone: strings.TrimSpace(v.Get("timezone")), Active: v.Get("active") != "",
	}
	// The rows the form had, so that an application the configuration no
	// longer has can still be unticked.
	var named config.Rule
	excluded := map[string]bool{}
	for _, a := range v["exclude"] {
		excluded[a] = true
		named.ExcludeApplications = append(named.ExcludeApplications, config.Exclusion{Application: a})
	}
	named.Action.Applications = map[string]string{}
	for _, a := range v["app"] {
		if act := v.Get("action." + a); act != "" {
			named.Action.Applications[a] = act
		}
	}
	f.Apps = appRows(apps, named, func(row *appRow) {
		row.Excluded = excluded[row.ID]
		row.Reason = strings.TrimSpace(v.Get("reason." + row.ID))
		row.Until = strings.TrimSpace(v.Get("until." + row.ID))
		row.Action = v.Get("action." + row.ID)
	})
	return f
}

// rule builds the rule the form describes. Fields that are not even of
// the right kind (a number that is not a number) are reported as problems
// here; everything else is left to the API's validation.
func (f *ruleForm) rule() config.Rule {
	r := config.Rule{ID: f.ID, Name: f.Name, Scope: strings.TrimSpace(f.Scope), Immediate: f.Immediate}
	for s := range strings.SplitSeq(f.Statuses, ",") {
		if s = strings.TrimSpace(s); s != "" {
			r.Trigger.Statuses = append(r.Trigger.Statuses, s)
		}
	}
	if f.EndDateOn {
		n, ok := f.integer("trigger.endDate", f.EndDateOffset, "0")
		if ok {
			r.Trigger.EndDate = &config.EndDateTrigger{OffsetDays: n}
		}
	}
	switch f.HookKind {
	case "cel":
		r.Trigger.Hook = &config.Hook{CEL: strings.TrimSpace(f.HookCEL)}
	case "url":
		r.Trigger.Hook = &config.Hook{URL: f.HookURL}
		if n, ok := f.integer("trigger.hook.timeoutSeconds", f.HookTimeout, "0"); ok {
			r.Trigger.Hook.TimeoutSeconds = n
		}
	case "":
	default:
		f.addError("trigger.hook", "unknown hook kind "+strconv.Quote(f.HookKind))
	}
	if n, ok := f.integer("gracePeriodDays", f.GraceDays, "0"); ok {
		r.GracePeriodDays = n
	}
	r.Action.Default = f.ActionDefault
	for _, row := range f.Apps {
		if row.Excluded {
			r.ExcludeApplications = append(r.ExcludeApplications, config.Exclusion{Application: row.ID, Reason: row.Reason, Until: row.Until})
		}
		if row.Action != "" {
			if r.Action.Applications == nil {
				r.Action.Applications = map[string]string{}
			}
			r.Action.Applications[row.ID] = row.Action
		}
	}
	if f.Allocation != "" {
		if n, ok := f.integer("processAllocationSize", f.Allocation, ""); ok {
			r.ProcessAllocationSize = &n
		}
	}
	if f.MaxUsers != "" {
		if n, ok := f.integer("safety.maxUsers", f.MaxUsers, ""); ok {
			r.Safety.MaxUsers = &n
		}
	}
	if f.MaxPercent != "" {
		p, err := strconv.ParseFloat(f.MaxPercent, 64)
		if err != nil {
			f.addError("safety.maxPercent", fmt.Sprintf("%q is not a number", f.MaxPercent))
		} else {
			r.Safety.MaxPercent = &p
		}
	}
	switch {
	case f.Cron != "":
		r.Schedule = &config.Schedule{Cron: f.Cron, Timezone: f.Timezone, Active: f.Active}
	case f.Active:
		f.addError("schedule.cron", "required to activate the schedule")
	}
	return r
}

// integer reads a whole number; empty means def (when def is not "").
func (f *ruleForm) integer(field, s, def string) (int, bool) {
	if s == "" {
		s = def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f.addError(field, fmt.Sprintf("%q is not a whole number", s))
		return 0, false
	}
	return n, true
}

// fieldLabels name the editor's fields in the problem summary.
var fieldLabels = map[string]string{
	"":                            "Rule",
	"id":                          "ID",
	"name":                        "Name",
	"trigger":                     "Trigger",
	"trigger.statuses":            "Statuses",
	"trigger.endDate":             "End date offset",
	"trigger.hook":                "Hook",
	"trigger.hook.cel":            "Hook CEL expression",
	"trigger.hook.url":            "Hook URL",
	"trigger.hook.timeoutSeconds": "Hook timeout",
	"scope":                       "Scope",
	"gracePeriodDays":             "Grace period",
	"action.default":              "Default action",
	"processAllocationSize":       "Process allocation size",
	"safety.maxUsers":             "Max users",
	"safety.maxPercent":           "Max percent",
	"schedule":                    "Schedule",
	"schedule.cron":               "Cron expression",
	"schedule.timezone":           "Timezone",
}

func (f *ruleForm) addError(field, msg string) {
	if f.Errors == nil {
		f.Errors = map[string][]string{}
	}
	f.Errors[field] = append(f.Errors[field], msg)
	label, ok := fieldLabels[field]
	if !ok {
		switch {
		case strings.HasPrefix(field, "exclude."):
			app, _, _ := strings.Cut(strings.TrimPrefix(field, "exclude."), ".")
			label = "Exclusion of " + app
		case strings.HasPrefix(field, "action."):
			label = "Action in " + strings.TrimPrefix(field, "action.")
		default:
			label = field
		}
	}
	f.Problems = append(f.Problems, fieldProblem{Field: field, Label: label, Message: msg})
}

var (
	statusPath  = regexp.MustCompile(`^trigger\.statuses\[\d+\]$`)
	excludePath = regexp.MustCompile(`^excludeApplications\[(\d+)\](?:\.(\w+))?$`)
)

// addProblems puts the API's problems next to their fields: a location
// such as body.schedule.cron becomes the field key schedule.cron, an
// exclusion's index becomes its application. A problem elsewhere in the
// configuration (config.…) concerns the whole rule.
func (f *ruleForm) addProblems(p *problem, r config.Rule) {
	if len(p.Errors) == 0 {
		f.addError("", p.Error())
		return
	}
	for _, e := range p.Errors {
		k, msg := fieldKey(e.Location, r), e.Message
		if loc := strings.TrimPrefix(e.Location, "body."); k == "" && loc != "body" && loc != "" && !strings.HasPrefix(loc, "config.") {
			msg = loc + ": " + msg
		}
		f.addError(k, msg)
	}
}

// fieldKey maps an API problem location to the editor's field key.
func fieldKey(loc string, r config.Rule) string {
	if loc == "path.id" {
		return "id"
	}
	if loc == "body" || !strings.HasPrefix(loc, "body.") {
		return ""
	}
	p := strings.TrimPrefix(loc, "body.")
	switch {
	case statusPath.MatchString(p):
		return "trigger.statuses"
	case p == "trigger.endDate.offsetDays" || p == "trigger.endDate":
		return "trigger.endDate"
	case strings.HasPrefix(p, "action.applications."):
		return "action." + strings.TrimPrefix(p, "action.applications.")
	}
	if m := excludePath.FindStringSubmatch(p); m != nil {
		i, _ := strconv.Atoi(m[1])
		if i < len(r.ExcludeApplications) {
			k := "exclude." + r.ExcludeApplications[i].Application
			if m[2] == "until" {
				k += ".until"
			}
			return k
		}
		return ""
	}
	if _, ok := fieldLabels[p]; ok {
		return p
	}
	return ""
}

// fingerprint identifies a rule's stored content.
func fingerprint(r config.Rule) string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
