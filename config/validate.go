package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/identity/csvsource"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/schedule"
)

// Problem is one thing wrong in a configuration, at a path such as
// rules[0].schedule.cron.
type Problem struct {
	Path string `json:"path"`
	Msg  string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Limits of rule fields.
const (
	MaxGraceDays      = 3650
	MaxAllocationSize = 256
	MaxOffsetDays     = 3650
)

type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the whole configuration and returns a *ValidationError
// listing every problem with its path, or nil.
func (c Config) Validate() error {
	var ps problems
	apps := map[string]bool{}
	for i, a := range c.Applications {
		p := fmt.Sprintf("applications[%d]", i)
		checkID(&ps, p+".id", a.ID, apps)
		validateApplication(&ps, p, a)
	}
	srcs := map[string]bool{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		checkID(&ps, p+".id", s.ID, srcs)
		validateSource(&ps, p, s)
	}
	rules := map[string]bool{}
	for i, r := range c.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		checkID(&ps, p+".id", r.ID, rules)
		validateRule(&ps, p, r, apps)
	}
	if c.Defaults != nil {
		validateSafety(&ps, "defaults.safety", c.Defaults.Safety)
	}
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

func checkID(ps *problems, path, id string, seen map[string]bool) {
	switch {
	case id == "":
		ps.add(path, "required")
	case len(id) > 64 || !idPattern.MatchString(id):
		ps.add(path, "%q must be lowercase letters and digits in words joined by single hyphens (at most 64 characters)", id)
	case seen[id]:
		ps.add(path, "%q is used twice", id)
	}
	seen[id] = true
}

var identityFields = []string{"userName", "email", "externalId", "displayName", "department", "manager", "status"}

func validateApplication(ps *problems, p string, a Application) {
	f, ok := connector.Lookup(a.Connector.Type)
	switch {
	case a.Connector.Type == "":
		ps.add(p+".connector.type", "required (one of %s)", strings.Join(connector.Types(), ", "))
	case !ok:
		ps.add(p+".connector.type", "unknown connector type %q (one of %s)", a.Connector.Type, strings.Join(connector.Types(), ", "))
	default:
		for _, err := range f.Validate(a.Connector.Settings) {
			ps.add(p+".connector."+firstKey(err), "%s", restOf(err))
		}
		for _, k := range f.Secrets {
			if holdsRedacted(a.Connector.Settings[k]) {
				ps.add(p+".connector."+k, "%s", redactedMsg)
			}
		}
	}
	if a.Correlation.Identity != "" && !slices.Contains(identityFields, a.Correlation.Identity) && !strings.HasPrefix(a.Correlation.Identity, "attributes.") {
		ps.add(p+".correlation.identity", "unknown identity field %q (one of %s, or attributes.NAME)", a.Correlation.Identity, strings.Join(identityFields, ", "))
	}
	if a.Action != "" {
		if _, err := account.ParseAction(a.Action); err != nil {
			ps.add(p+".action", "%v", err)
		}
	}
	if a.RateLimit < 0 {
		ps.add(p+".rateLimit", "must be 0 (no limit) or more, got %v", a.RateLimit)
	}
	if a.MaxAttempts < 0 || a.MaxAttempts > 100 {
		ps.add(p+".maxAttempts", "must be between 1 and 100 (0 means the default 8), got %d", a.MaxAttempts)
	}
}

// firstKey and restOf split a factory's "key: message" error.
func firstKey(err error) string {
	k, _, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		return "(settings)"
	}
	return k
}

func restOf(err error) string {
	_, m, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		return err.Error()
	}
	return m
}

func validateSource(ps *problems, p string, s Source) {
	switch s.Type {
	case "csv":
		if s.Path == "" {
			ps.add(p+".path", "required for a csv source")
		}
		for k := range s.Columns {
			if !slices.Contains(csvsource.Fields, k) {
				ps.add(p+".columns."+k, "unknown identity field (one of %s)", strings.Join(csvsource.Fields, ", "))
			}
		}
		if s.Token != "" {
			ps.add(p+".token", "only a scim source takes a token")
		}
		if s.MissingStatus != "" && strings.TrimSpace(s.MissingStatus) != s.MissingStatus {
			ps.add(p+".missingStatus", "has spaces around it: %q", s.MissingStatus)
		}
	case "scim":
		if s.MissingStatus != "" {
			ps.add(p+".missingStatus", "a scim source says itself when a user is deleted; only a csv source has deliveries to be missing from")
		}
		if s.Token == RedactedValue {
			ps.add(p+".token", "%s", redactedMsg)
		}
		if s.Token == "" {
			ps.add(p+".token", "required for a scim source (the bearer token it pushes with)")
		}
		if s.Path != "" {
			ps.add(p+".path", "only a csv source reads a file")
		}
		// The scheduler would fire a sync that can only fail, every time.
		if s.Schedule != nil {
			ps.add(p+".schedule", "a scim source is pushed to; it has no schedule")
		}
	case "":
		ps.add(p+".type", "required (csv or scim)")
	default:
		ps.add(p+".type", "unknown source type %q (csv or scim)", s.Type)
	}
	if s.Schedule != nil && s.Type != "scim" {
		validateSchedule(ps, p+".schedule", *s.Schedule)
	}
}

func validateSchedule(ps *problems, p string, s Schedule) {
	loc, err := schedule.LoadTimezone(s.Timezone)
	if err != nil {
		ps.add(p+".timezone", "%v", err)
	}
	if s.Cron == "" {
		ps.add(p+".cron", "required")
		return
	}
	if loc != nil {
		if _, err := schedule.Parse(s.Cron, loc); err != nil {
			ps.add(p+".cron", "%v", err)
		}
	}
}

func validateRule(ps *problems, p string, r Rule, apps map[string]bool) {
	t := r.Trigger
	if len(t.Statuses) == 0 && t.EndDate == nil && t.Hook == nil {
		ps.add(p+".trigger", "set at least one of statuses, endDate, hook")
	}
	for i, st := range t.Statuses {
		if strings.TrimSpace(st) == "" {
			ps.add(fmt.Sprintf("%s.trigger.statuses[%d]", p, i), "empty status")
		}
	}
	if t.EndDate != nil && (t.EndDate.OffsetDays < -MaxOffsetDays || t.EndDate.OffsetDays > MaxOffsetDays) {
		ps.add(p+".trigger.endDate.offsetDays", "must be between -%d and %d, got %d", MaxOffsetDays, MaxOffsetDays, t.EndDate.OffsetDays)
	}
	if h := t.Hook; h != nil {
		validateHook(ps, p+".trigger.hook", *h)
	}
	if r.Scope != "" {
		if err := rule.CheckExpression(r.Scope); err != nil {
			ps.add(p+".scope", "%v", err)
		}
	}
	for i, e := range r.ExcludeApplications {
		ep := fmt.Sprintf("%s.excludeApplications[%d]", p, i)
		if !apps[e.Application] {
			ps.add(ep, "unknown application %q", e.Application)
		}
		if e.Until != "" {
			if _, err := identity.ParseEndDate(e.Until); err != nil {
				ps.add(ep+".until", "%v", err)
			}
		}
	}
	if r.GracePeriodDays < 0 || r.GracePeriodDays > MaxGraceDays {
		ps.add(p+".gracePeriodDays", "must be between 0 and %d days, got %d", MaxGraceDays, r.GracePeriodDays)
	}
	if r.Action.Default != "" {
		if _, err := account.ParseAction(r.Action.Default); err != nil {
			ps.add(p+".action.default", "%v", err)
		}
	}
	for app, act := range r.Action.Applications {
		ap := p + ".action.applications." + app
		if !apps[app] {
			ps.add(ap, "unknown application %q", app)
		}
		if _, err := account.ParseAction(act); err != nil {
			ps.add(ap, "%v", err)
		}
	}
	if n := r.ProcessAllocationSize; n != nil && (*n < 1 || *n > MaxAllocationSize) {
		ps.add(p+".processAllocationSize", "must be between 1 and %d, got %d", MaxAllocationSize, *n)
	}
	if r.Schedule != nil {
		validateSchedule(ps, p+".schedule", *r.Schedule)
	}
	validateSafety(ps, p+".safety", r.Safety)
}

func validateSafety(ps *problems, p string, s Safety) {
	if m := s.MaxUsers; m != nil && *m < 0 {
		ps.add(p+".maxUsers", "must be 0 or more, got %d", *m)
	}
	if m := s.MaxPercent; m != nil && (*m < 0 || *m > 100) {
		ps.add(p+".maxPercent", "must be between 0 and 100, got %v", *m)
	}
}

func validateHook(ps *problems, p string, h Hook) {
	switch {
	case h.CEL == "" && h.URL == "":
		ps.add(p, "set cel or url")
	case h.CEL != "" && h.URL != "":
		ps.add(p, "set cel or url, not both")
	case h.CEL != "":
		if err := rule.CheckExpression(h.CEL); err != nil {
			ps.add(p+".cel", "%v", err)
		}
	default:
		if err := checkHookURL(h.URL); err != nil {
			ps.add(p+".url", "%v", err)
		}
	}
	if h.TimeoutSeconds < 0 || h.TimeoutSeconds > 300 {
		ps.add(p+".timeoutSeconds", "must be between 1 and 300 (0 means 10), got %d", h.TimeoutSeconds)
	}
}

// checkHookURL accepts https, and plain http only to a loopback host.
func checkHookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("must be https (plain http is accepted only for a loopback host)")
	}
	return fmt.Errorf("scheme %q: must be https", u.Scheme)
}

const redactedMsg = "holds " + RedactedValue + " from an export: give the secret, or ${env:NAME}"

// holdsRedacted reports whether a secret setting (or a value in a map of
// secrets) is the placeholder export writes.
func holdsRedacted(v any) bool {
	switch x := v.(type) {
	case string:
		return x == RedactedValue
	case map[string]any:
		for _, e := range x {
			if holdsRedacted(e) {
				return true
			}
		}
	}
	return false
}
