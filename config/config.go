// Package config is deprov's declarative model: the applications, sources
// and rules of SPEC §3 as read from YAML (deprov apply) and written back
// (deprov export), with secret expansion and validation that reports every
// problem with its path.
package config

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Config is a whole deprov configuration.
type Config struct {
	// Applications are the target systems that hold accounts.
	Applications []Application `yaml:"applications,omitempty" json:"applications"`
	// Sources deliver identities.
	Sources []Source `yaml:"sources,omitempty" json:"sources"`
	// Rules decide who is deprovisioned, where, how and when.
	Rules []Rule `yaml:"rules,omitempty" json:"rules"`
	// Defaults apply to every rule that does not set its own.
	Defaults *Defaults `yaml:"defaults,omitempty" json:"defaults,omitempty"`
}

// Defaults are configuration-wide defaults.
type Defaults struct {
	// Safety applies to rules whose safety block sets neither limit.
	Safety Safety `yaml:"safety,omitempty" json:"safety"`
}

// SafetyFor returns a rule's safety limits: its own when it sets any,
// else the configuration's default.
func (c *Config) SafetyFor(r Rule) Safety {
	if r.Safety.MaxUsers != nil || r.Safety.MaxPercent != nil || c.Defaults == nil {
		return r.Safety
	}
	return c.Defaults.Safety
}

// Application is a target system reached through a connector.
type Application struct {
	// ID is the application's key: [a-z0-9-]+, unique.
	ID string `yaml:"id" json:"id"`
	// Name is a display name.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Connector selects the connector type and holds its settings.
	Connector Connector `yaml:"connector" json:"connector"`
	// Correlation says which account field matches which identity field.
	Correlation Correlation `yaml:"correlation" json:"correlation"`
	// Action is the application's default action (disable when empty).
	Action string `yaml:"action,omitempty" json:"action,omitempty"`
	// RateLimit is requests per second to this target; 0 means no limit.
	RateLimit float64 `yaml:"rateLimit,omitempty" json:"rateLimit,omitempty"`
	// MaxAttempts is how often a revocation is tried before it fails (default 8).
	MaxAttempts int `yaml:"maxAttempts,omitempty" json:"maxAttempts,omitempty"`
}

// Connector is a connector block: its type and the type's own settings,
// written inline beside `type` in YAML.
type Connector struct {
	// Type is scim, ldap, webhook or manual.
	Type string `json:"type"`
	// Settings are the type's keys, secrets unexpanded (${env:NAME}).
	Settings map[string]any `json:"-"`
}

// UnmarshalYAML reads `type` and keeps every other key as a setting.
func (c *Connector) UnmarshalYAML(n *yaml.Node) error {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	if t, ok := m["type"]; ok {
		s, ok := t.(string)
		if !ok {
			return fmt.Errorf("line %d: connector.type must be a string", n.Line)
		}
		c.Type = s
		delete(m, "type")
	}
	c.Settings = m
	return nil
}

// MarshalYAML writes type first, then the settings.
func (c Connector) MarshalYAML() (any, error) { return c.flat(), nil }

func (c Connector) flat() map[string]any {
	m := make(map[string]any, len(c.Settings)+1)
	for k, v := range c.Settings {
		m[k] = v
	}
	m["type"] = c.Type
	return m
}

// Correlation pairs an account field with an identity field.
type Correlation struct {
	// Account is the account field: userName, email, nativeId or an attribute.
	Account string `yaml:"account" json:"account"`
	// Identity is the identity field: userName, email, externalId or attributes.NAME.
	Identity string `yaml:"identity" json:"identity"`
}

// Source delivers identities.
type Source struct {
	// ID is the source's key: [a-z0-9-]+, unique.
	ID string `yaml:"id" json:"id"`
	// Name is a display name.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Type is csv or scim.
	Type string `yaml:"type" json:"type"`
	// Path is the CSV file (csv), re-read on each sync.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Columns maps identity fields to CSV headers (csv).
	Columns map[string]string `yaml:"columns,omitempty" json:"columns,omitempty"`
	// Token is the bearer token the source pushes with (scim); a secret.
	Token string `yaml:"token,omitempty" json:"token,omitempty"`
	// Schedule syncs the source periodically.
	Schedule *Schedule `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// SCIM maps pushed SCIM attributes to status and end date (scim).
	SCIM *SCIMMapping `yaml:"scim,omitempty" json:"scim,omitempty"`
	// Guard holds suspicious deliveries for approval (see Guard).
	Guard *Guard `yaml:"guard,omitempty" json:"guard,omitempty"`
	// MissingStatus (csv) is the status a sync gives to identities of the
	// source that its file no longer lists, e.g. TERMINATED for an export
	// of active staff only. Empty, the default: an identity missing from a
	// delivery is left as it is, so that a feed's silence never makes a
	// leaver.
	MissingStatus string `yaml:"missingStatus,omitempty" json:"missingStatus,omitempty"`
}

// SCIMMapping says which attributes of users pushed to deprov's SCIM
// endpoint become the identity's status and end date.
type SCIMMapping struct {
	// Status is the attribute read as the status: "active" (the default)
	// maps true and false to ActiveStatus and InactiveStatus; any other
	// attribute path (e.g. "urn:…:enterprise:2.0:User:employeeStatus") is
	// taken as text.
	Status string `yaml:"status,omitempty" json:"status,omitempty"`
	// ActiveStatus is the status of an active user (default ACTIVE).
	ActiveStatus string `yaml:"activeStatus,omitempty" json:"activeStatus,omitempty"`
	// InactiveStatus is the status of a user with active=false (default INACTIVE).
	InactiveStatus string `yaml:"inactiveStatus,omitempty" json:"inactiveStatus,omitempty"`
	// DeletedStatus is the status of a user the source deletes (default DELETED).
	DeletedStatus string `yaml:"deletedStatus,omitempty" json:"deletedStatus,omitempty"`
	// EndDate is the attribute path read as the end date, e.g.
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeLeaveDate".
	EndDate string `yaml:"endDate,omitempty" json:"endDate,omitempty"`
}

// Guard is a source's feed guard: a delivery that would empty the source,
// or change the status or end date of more than MaxChangePercent of its
// identities, is held until an operator approves it.
type Guard struct {
	// MaxChangePercent is the most identities (in percent of those the
	// source has) one delivery may change the status or end date of
	// (default 10; 100 turns the share guard off).
	MaxChangePercent *float64 `yaml:"maxChangePercent,omitempty" json:"maxChangePercent,omitempty"`
	// AllowEmpty lets a delivery with no rows through (off by default).
	AllowEmpty bool `yaml:"allowEmpty,omitempty" json:"allowEmpty,omitempty"`
	// MinIdentities is the source size under which the share guard does
	// not apply (default 20), so small sources are not held for one leaver.
	MinIdentities *int `yaml:"minIdentities,omitempty" json:"minIdentities,omitempty"`
}

// Schedule is a cron line in a timezone.
type Schedule struct {
	// Cron is a 5-field crontab line or a 6/7-field Quartz line.
	Cron string `yaml:"cron" json:"cron"`
	// Timezone is an IANA zone; empty means UTC.
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// Active turns the schedule on. A source schedule is always active.
	Active bool `yaml:"active,omitempty" json:"active,omitempty"`
}

// Rule is a deprovisioning rule.
type Rule struct {
	// ID is the rule's key: [a-z0-9-]+, unique.
	ID string `yaml:"id" json:"id"`
	// Name is a display name.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Trigger decides who matches; at least one part must be set.
	Trigger Trigger `yaml:"trigger" json:"trigger"`
	// Scope is an optional CEL expression; only identities for which it is true are evaluated.
	Scope string `yaml:"scope,omitempty" json:"scope,omitempty"`
	// ExcludeApplications are never touched by this rule.
	ExcludeApplications []Exclusion `yaml:"excludeApplications,omitempty" json:"excludeApplications,omitempty"`
	// GracePeriodDays delays revocations after the first match (0-3650).
	GracePeriodDays int `yaml:"gracePeriodDays,omitempty" json:"gracePeriodDays"`
	// Action is the rule's default action and per-application overrides.
	Action RuleAction `yaml:"action,omitempty" json:"action"`
	// ProcessAllocationSize is how many revocations of this rule run at once on one node (1-256, default 4).
	ProcessAllocationSize *int `yaml:"processAllocationSize,omitempty" json:"processAllocationSize,omitempty"`
	// Schedule fires the rule periodically when active.
	Schedule *Schedule `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// Immediate evaluates the rule for an identity as soon as its source record changes.
	Immediate bool `yaml:"immediate,omitempty" json:"immediate,omitempty"`
	// Safety limits how many identities one run may deprovision.
	Safety Safety `yaml:"safety,omitempty" json:"safety"`
}

// DefaultAllocationSize is the process allocation size of a rule that sets none.
const DefaultAllocationSize = 4

// AllocationSize is the rule's process allocation size with its default.
func (r Rule) AllocationSize() int {
	if r.ProcessAllocationSize == nil {
		return DefaultAllocationSize
	}
	return *r.ProcessAllocationSize
}

// Trigger is the set of conditions of which any one fires.
type Trigger struct {
	// Statuses match the identity's status, case-insensitively.
	Statuses []string `yaml:"statuses,omitempty" json:"statuses,omitempty"`
	// EndDate matches when end date + offset is at or before now.
	EndDate *EndDateTrigger `yaml:"endDate,omitempty" json:"endDate,omitempty"`
	// Hook is custom logic.
	Hook *Hook `yaml:"hook,omitempty" json:"hook,omitempty"`
}

// EndDateTrigger fires OffsetDays after the identity's end date.
type EndDateTrigger struct {
	// OffsetDays may be negative to act before the last day.
	OffsetDays int `yaml:"offsetDays" json:"offsetDays"`
}

// Hook is custom trigger logic: a CEL expression, or an HTTPS endpoint.
type Hook struct {
	// CEL is a boolean expression over user, accounts and now.
	CEL string `yaml:"cel,omitempty" json:"cel,omitempty"`
	// URL receives the identity as JSON and answers {"deprovision": bool}.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// TimeoutSeconds bounds a URL hook call (default 10).
	TimeoutSeconds int `yaml:"timeoutSeconds,omitempty" json:"timeoutSeconds,omitempty"`
}

// Exclusion is an application a rule never touches.
type Exclusion struct {
	// Application is the excluded application's id.
	Application string `yaml:"application" json:"application"`
	// Reason says why, for the audit.
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
	// Until, when set (RFC 3339 date or date-time), ends the exclusion:
	// from then on the rule touches the application again.
	Until string `yaml:"until,omitempty" json:"until,omitempty"`
}

// UnmarshalYAML accepts a bare application id or the long form.
func (e *Exclusion) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Application = n.Value
		return nil
	}
	type plain Exclusion
	return n.Decode((*plain)(e))
}

// MarshalYAML writes the short form when there is nothing but the id.
func (e Exclusion) MarshalYAML() (any, error) {
	if e.Reason == "" && e.Until == "" {
		return e.Application, nil
	}
	type plain Exclusion
	return plain(e), nil
}

// RuleAction is a rule's default action and per-application overrides.
type RuleAction struct {
	// Default applies to every application not overridden; empty means the application's own.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Applications overrides the action per application id.
	Applications map[string]string `yaml:"applications,omitempty" json:"applications,omitempty"`
}

// UnmarshalYAML accepts `action: disable` as well as the long form.
func (a *RuleAction) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		a.Default = n.Value
		return nil
	}
	type plain RuleAction
	return n.Decode((*plain)(a))
}

// For returns the action for an application: the rule's override, else
// the rule's default, else the application's own, else disable.
func (a RuleAction) For(app Application) string {
	switch {
	case a.Applications[app.ID] != "":
		return a.Applications[app.ID]
	case a.Default != "":
		return a.Default
	case app.Action != "":
		return app.Action
	}
	return "disable"
}

// Safety limits the size of one run.
type Safety struct {
	// MaxUsers is the most identities one run may deprovision.
	MaxUsers *int `yaml:"maxUsers,omitempty" json:"maxUsers,omitempty"`
	// MaxPercent is the most identities one run may deprovision, as a percentage of those in scope.
	MaxPercent *float64 `yaml:"maxPercent,omitempty" json:"maxPercent,omitempty"`
}

// Application finds an application by id.
func (c *Config) Application(id string) (Application, bool) {
	for _, a := range c.Applications {
		if a.ID == id {
			return a, true
		}
	}
	return Application{}, false
}

// Source finds a source by id.
func (c *Config) Source(id string) (Source, bool) {
	for _, s := range c.Sources {
		if s.ID == id {
			return s, true
		}
	}
	return Source{}, false
}

// Rule finds a rule by id.
func (c *Config) Rule(id string) (Rule, bool) {
	for _, r := range c.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// MarshalJSON writes the block flat, as in YAML.
func (c Connector) MarshalJSON() ([]byte, error) { return json.Marshal(c.flat()) }

// UnmarshalJSON reads the flat block.
func (c *Connector) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	t, _ := m["type"].(string)
	delete(m, "type")
	c.Type, c.Settings = t, m
	return nil
}
