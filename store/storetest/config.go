package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/store"
)

var configTests = []test{
	{"EmptyBeforeApply", testConfigEmpty},
	{"RoundTrip", testConfigRoundTrip},
	{"ReplacesWhole", testConfigReplacesWhole},
	{"Atomic", testConfigAtomic},
	{"CompareAndSet", testConfigCompareAndSet},
	{"CompareAndSetConcurrent", testConfigCompareAndSetConcurrent},
}

// fullConfig exercises every kind of field, with items deliberately not in
// id order and connector settings of every YAML type.
func fullConfig() config.Config {
	return config.Config{
		Applications: []config.Application{
			{
				ID: "zeta-crm", Name: "Zeta CRM",
				Connector: config.Connector{Type: "scim", Settings: map[string]any{
					"url":      "https://crm.example.com/scim/v2",
					"token":    "${env:CRM_TOKEN}",
					"pageSize": 200,
					"timeout":  2.5,
					"insecure": false,
					"headers":  map[string]any{"X-Tenant": "acme", "X-Retry": 3},
					"scopes":   []any{"users", "groups", 7},
				}},
				Correlation: config.Correlation{Account: "userName", Identity: "userName"},
				Action:      "disable", RateLimit: 12.5, MaxAttempts: 7,
			},
			{
				ID:          "alpha-ldap",
				Connector:   config.Connector{Type: "ldap", Settings: map[string]any{"url": "ldaps://dc1:636", "port": 636}},
				Correlation: config.Correlation{Account: "mail", Identity: "email"},
			},
		},
		Sources: []config.Source{
			{
				ID: "workday", Name: "Workday export", Type: "csv", Path: "/data/hr.csv",
				Columns:  map[string]string{"externalId": "Employee ID", "status": "Worker Status"},
				Schedule: &config.Schedule{Cron: "0 2 * * *", Timezone: "Europe/Berlin"},
			},
			{ID: "entra", Type: "scim", Token: "${env:ENTRA_TOKEN}"},
		},
		Rules: []config.Rule{
			{
				ID: "terminated", Name: "Terminated workers",
				Trigger: config.Trigger{
					Statuses: []string{"Terminated", "inactive"},
					EndDate:  &config.EndDateTrigger{OffsetDays: -1},
					Hook:     &config.Hook{CEL: `user.department == "Sales"`, TimeoutSeconds: 5},
				},
				Scope:                 `user.attributes["country"] == "DE"`,
				ExcludeApplications:   []config.Exclusion{{Application: "alpha-ldap", Reason: "legal hold"}},
				GracePeriodDays:       14,
				Action:                config.RuleAction{Default: "disable", Applications: map[string]string{"zeta-crm": "delete"}},
				ProcessAllocationSize: ptr(8),
				Schedule:              &config.Schedule{Cron: "0 0 12 ? * 2", Active: true},
				Immediate:             true,
				Safety:                config.Safety{MaxUsers: ptr(50), MaxPercent: ptr(2.5)},
			},
			{ID: "contractors", Trigger: config.Trigger{Hook: &config.Hook{URL: "https://hooks.example.com/x"}}},
		},
		Defaults: &config.Defaults{Safety: config.Safety{MaxPercent: ptr(10.0)}},
	}
}

func testConfigEmpty(t *testing.T, s store.Store) {
	cfg, v, err := s.Config(t.Context())
	must(t, err)
	equal(t, "version before apply", v, int64(0))
	equal(t, "config before apply", cfg, config.Config{})
	v, err = s.ConfigVersion(t.Context())
	must(t, err)
	equal(t, "ConfigVersion before apply", v, int64(0))
}

func testConfigRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := fullConfig()
	must(t, s.ApplyConfig(ctx, want, store.AnyVersion, event("config.applied")))
	got, v, err := s.Config(ctx)
	must(t, err)
	equal(t, "version", v, int64(1))
	// Order, every field and every connector setting (ints stay ints, as
	// YAML decodes them) come back as applied.
	equal(t, "config", got, want)
	equal(t, "applied event", lastEvent(t, s).Action, "config.applied")

	must(t, s.ApplyConfig(ctx, want, store.AnyVersion, event("config.applied")))
	v, err = s.ConfigVersion(ctx)
	must(t, err)
	equal(t, "version after second apply", v, int64(2))
}

func testConfigReplacesWhole(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.ApplyConfig(ctx, fullConfig(), store.AnyVersion, event("config.applied")))
	next := fullConfig()
	next.Applications = []config.Application{next.Applications[1]}
	next.Sources = nil
	next.Rules = []config.Rule{next.Rules[1], next.Rules[0]}
	must(t, s.ApplyConfig(ctx, next, store.AnyVersion, event("config.applied")))
	got, v, err := s.Config(ctx)
	must(t, err)
	equal(t, "version", v, int64(2))
	equal(t, "config", got, next)

	must(t, s.ApplyConfig(ctx, config.Config{}, store.AnyVersion, event("config.applied")))
	got, v, err = s.Config(ctx)
	must(t, err)
	equal(t, "version", v, int64(3))
	equal(t, "emptied config", got, config.Config{})
	equal(t, "events", auditLen(t, s), 3)
}

func testConfigAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.ApplyConfig(ctx, fullConfig(), store.AnyVersion, unmarshalable("config.applied")); err == nil {
		t.Fatal("ApplyConfig with an event that cannot be stored succeeded")
	}
	cfg, v, err := s.Config(ctx)
	must(t, err)
	equal(t, "version after failed apply", v, int64(0))
	equal(t, "config after failed apply", cfg, config.Config{})
	equal(t, "events after failed apply", auditLen(t, s), 0)
}

// testConfigCompareAndSet: a configuration made from a version that is no
// longer the stored one changes nothing and fails with ErrConflict.
func testConfigCompareAndSet(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.ApplyConfig(ctx, fullConfig(), 0, event("config.applied")))
	stale := fullConfig()
	stale.Rules = nil
	wantErr(t, s.ApplyConfig(ctx, stale, 0, event("config.applied")), store.ErrConflict, "apply from version 0 at version 1")
	wantErr(t, s.ApplyConfig(ctx, stale, 2, event("config.applied")), store.ErrConflict, "apply from a version to come")
	got, v, err := s.Config(ctx)
	must(t, err)
	equal(t, "version", v, int64(1))
	equal(t, "config", got, fullConfig())
	equal(t, "events", auditLen(t, s), 1)
	must(t, s.ApplyConfig(ctx, stale, 1, event("config.applied")))
	got, v, err = s.Config(ctx)
	must(t, err)
	equal(t, "version", v, int64(2))
	equal(t, "config", got, stale)
}

// testConfigCompareAndSetConcurrent: of writers that all start from one
// version, exactly one succeeds.
func testConfigCompareAndSetConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cfg := fullConfig()
			cfg.Rules = cfg.Rules[:i%2]
			errs[i] = s.ApplyConfig(ctx, cfg, 0, event("config.applied"))
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("writer %d: %v, want success or ErrConflict", i, err)
		}
	}
	equal(t, "writers that succeeded", ok, 1)
	v, err := s.ConfigVersion(ctx)
	must(t, err)
	equal(t, "version", v, int64(1))
	equal(t, "events", auditLen(t, s), 1)
}
