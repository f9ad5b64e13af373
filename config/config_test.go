package config_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/deprov/deprov/config"
	_ "github.com/deprov/deprov/connector/scim"
)

func load(t *testing.T) config.Config {
	t.Helper()
	f, err := os.Open("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := config.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseSpecExample(t *testing.T) {
	t.Parallel()
	c := load(t)
	if err := c.Validate(); err != nil {
		t.Fatalf("the SPEC example must validate: %v", err)
	}
	r, ok := c.Rule("leavers")
	if !ok {
		t.Fatal("rule leavers missing")
	}
	if r.AllocationSize() != 8 || r.GracePeriodDays != 7 || r.Trigger.EndDate.OffsetDays != 0 || len(r.Trigger.Statuses) != 2 {
		t.Errorf("rule read wrong: %+v", r)
	}
	if r.ExcludeApplications[0].Application != "payroll" {
		t.Errorf("exclusions = %+v", r.ExcludeApplications)
	}
	gh, _ := c.Application("github")
	if gh.Connector.Type != "scim" || gh.Connector.Settings["url"] != "http://127.0.0.1:8880/scim/v2" {
		t.Errorf("connector = %+v", gh.Connector)
	}
	if got := r.Action.For(gh); got != "delete" {
		t.Errorf("action for github = %s, want delete", got)
	}
	pay, _ := c.Application("payroll")
	if got := r.Action.For(pay); got != "disable" {
		t.Errorf("action for payroll = %s, want the rule default disable", got)
	}
	if got := (config.RuleAction{}).For(config.Application{ID: "x", Action: "revoke"}); got != "revoke" {
		t.Errorf("application default = %s, want revoke", got)
	}
}

func TestValidateReportsEveryProblemWithPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*config.Config)
		path   string
		msg    string
	}{
		{"invalid cron", func(c *config.Config) { c.Rules[0].Schedule.Cron = "61 * * * *" }, "rules[0].schedule.cron", "minute"},
		{"invalid quartz", func(c *config.Config) { c.Rules[0].Schedule.Cron = "0 0 12 * * 1" }, "rules[0].schedule.cron", ""},
		{"unknown timezone", func(c *config.Config) { c.Rules[0].Schedule.Timezone = "Mars/Olympus" }, "rules[0].schedule.timezone", "Mars/Olympus"},
		{"invalid CEL hook gives position", func(c *config.Config) { c.Rules[0].Trigger.Hook.CEL = `user.status == ` }, "rules[0].trigger.hook.cel", "line 1, column"},
		{"invalid CEL scope", func(c *config.Config) { c.Rules[0].Scope = `nobody.x` }, "rules[0].scope", "undeclared reference"},
		{"grace -1", func(c *config.Config) { c.Rules[0].GracePeriodDays = -1 }, "rules[0].gracePeriodDays", "between 0 and 3650"},
		{"grace 4000", func(c *config.Config) { c.Rules[0].GracePeriodDays = 4000 }, "rules[0].gracePeriodDays", "got 4000"},
		{"allocation 0", func(c *config.Config) { n := 0; c.Rules[0].ProcessAllocationSize = &n }, "rules[0].processAllocationSize", "between 1 and 256"},
		{"allocation 257", func(c *config.Config) { n := 257; c.Rules[0].ProcessAllocationSize = &n }, "rules[0].processAllocationSize", "got 257"},
		{"unknown excluded application", func(c *config.Config) {
			c.Rules[0].ExcludeApplications = append(c.Rules[0].ExcludeApplications, config.Exclusion{Application: "nope"})
		}, "rules[0].excludeApplications[1]", `unknown application "nope"`},
		{"unknown action", func(c *config.Config) { c.Rules[0].Action.Default = "nuke" }, "rules[0].action.default", "unknown action"},
		{"action for unknown application", func(c *config.Config) { c.Rules[0].Action.Applications["jira"] = "delete" }, "rules[0].action.applications.jira", "unknown application"},
		{"no trigger", func(c *config.Config) { c.Rules[0].Trigger = config.Trigger{} }, "rules[0].trigger", "at least one"},
		{"duplicate id", func(c *config.Config) { c.Applications[1].ID = "github" }, "applications[1].id", "used twice"},
		{"bad id", func(c *config.Config) { c.Rules[0].ID = "Leavers!" }, "rules[0].id", "lowercase"},
		{"unknown connector type", func(c *config.Config) { c.Applications[0].Connector.Type = "carrier-pigeon" }, "applications[0].connector.type", "unknown connector type"},
		{"scim url missing", func(c *config.Config) { delete(c.Applications[0].Connector.Settings, "url") }, "applications[0].connector.url", ""},
		{"csv without path", func(c *config.Config) { c.Sources[0].Path = "" }, "sources[0].path", "required"},
		{"unknown column field", func(c *config.Config) { c.Sources[0].Columns["shoeSize"] = "x" }, "sources[0].columns.shoeSize", "unknown identity field"},
		{"max percent over 100", func(c *config.Config) { p := 150.0; c.Rules[0].Safety.MaxPercent = &p }, "rules[0].safety.maxPercent", "between 0 and 100"},
		{"plain http hook off loopback", func(c *config.Config) { c.Rules[0].Trigger.Hook = &config.Hook{URL: "http://hooks.example.com/x"} }, "rules[0].trigger.hook.url", "https"},
		{"redacted secret from an export", func(c *config.Config) { c.Applications[1].Connector.Settings["token"] = config.RedactedValue }, "applications[1].connector.token", "from an export"},
		{"scim source with a schedule", func(c *config.Config) { c.Sources[1].Schedule = &config.Schedule{Cron: "*/15 * * * *"} }, "sources[1].schedule", "a scim source is pushed to; it has no schedule"},
		{"scim source with missingStatus", func(c *config.Config) { c.Sources[1].MissingStatus = "TERMINATED" }, "sources[1].missingStatus", "only a csv source has deliveries to be missing from"},
		{"missingStatus with spaces", func(c *config.Config) { c.Sources[0].MissingStatus = " TERMINATED" }, "sources[0].missingStatus", "has spaces around it"},
		{"negative rate limit", func(c *config.Config) { c.Applications[0].RateLimit = -1 }, "applications[0].rateLimit", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := load(t)
			tc.mutate(&c)
			err := c.Validate()
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Path == tc.path && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Fatalf("no problem at %s containing %q in:\n%v", tc.path, tc.msg, err)
		})
	}
}

func TestValidateCollectsAll(t *testing.T) {
	t.Parallel()
	c := load(t)
	c.Rules[0].GracePeriodDays = -1
	c.Rules[0].Schedule.Cron = "nope"
	zero := 0
	c.Rules[0].ProcessAllocationSize = &zero
	var ve *config.ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

// A scim source's schedule is refused as a whole: what its cron says does
// not matter.
func TestValidateScimScheduleIsOneProblem(t *testing.T) {
	t.Parallel()
	c := load(t)
	c.Sources[1].Schedule = &config.Schedule{Cron: "nope", Timezone: "Mars/Olympus"}
	var ve *config.ValidationError
	if err := c.Validate(); !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].String() != "sources[1].schedule: a scim source is pushed to; it has no schedule" {
		t.Fatalf("want the one schedule problem, got %v", err)
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	t.Parallel()
	_, err := config.Parse(strings.NewReader("rules:\n  - id: x\n    gracePeriod: 3\n"))
	if err == nil || !strings.Contains(err.Error(), "gracePeriod") || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want the unknown key and its line", err)
	}
}

func TestMarshalRedactsLiteralSecrets(t *testing.T) {
	t.Parallel()
	c := load(t)
	out, err := config.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "literal-payroll-secret") {
		t.Fatalf("export leaks a literal secret:\n%s", s)
	}
	for _, want := range []string{"${env:GITHUB_SCIM_TOKEN}", "${env:HR_SCIM_TOKEN}", config.RedactedValue} {
		if !strings.Contains(s, want) {
			t.Errorf("export lacks %q:\n%s", want, s)
		}
	}
	// The original is untouched and the export parses back to a valid config.
	if pay, _ := c.Application("payroll"); pay.Connector.Settings["token"] != "literal-payroll-secret" {
		t.Error("Marshal changed its input")
	}
	back, err := config.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	// The literal secret came back redacted: applying the export as it is
	// must say so rather than store the placeholder.
	if err := back.Validate(); err == nil || !strings.Contains(err.Error(), "applications[1].connector.token") {
		t.Fatalf("exported config with a redacted secret validated: %v", err)
	}
}

func TestExpand(t *testing.T) {
	t.Setenv("DEPROV_TEST_SECRET", "s3cret")
	got, err := config.Expand("Bearer ${env:DEPROV_TEST_SECRET}")
	if err != nil || got != "Bearer s3cret" {
		t.Fatalf("Expand = %q, %v", got, err)
	}
	_, err = config.Expand("${env:DEPROV_TEST_UNSET_VAR}")
	if err == nil || !strings.Contains(err.Error(), "DEPROV_TEST_UNSET_VAR") {
		t.Fatalf("err = %v, want it to name the variable", err)
	}
}
