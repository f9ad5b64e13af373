package rule

import (
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/identity"
)

func intp(n int) *int { return &n }

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func endDate(t *testing.T, s string) identity.EndDate {
	t.Helper()
	d, err := identity.ParseEndDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecideTriggers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		spec    Spec
		id      identity.Identity
		matched bool
		reason  string
	}{
		{"status matches case-insensitively", Spec{Statuses: []string{"TERMINATED"}}, identity.Identity{Status: "terminated"}, true, "status terminated"},
		{"status trims spaces", Spec{Statuses: []string{"INACTIVE"}}, identity.Identity{Status: " Inactive "}, true, "status"},
		{"other status does not match", Spec{Statuses: []string{"TERMINATED"}}, identity.Identity{Status: "ACTIVE"}, false, ""},
		{"empty status never matches", Spec{Statuses: []string{"TERMINATED"}}, identity.Identity{}, false, ""},
		{"end date passed", Spec{EndDateOffsetDays: intp(0)}, identity.Identity{EndDate: endDate(t, "2026-11-25")}, true, "end date 2026-11-25 +0 days"},
		{"end date today matches from midnight", Spec{EndDateOffsetDays: intp(0)}, identity.Identity{EndDate: endDate(t, "2026-11-26")}, true, "end date"},
		{"end date tomorrow", Spec{EndDateOffsetDays: intp(0)}, identity.Identity{EndDate: endDate(t, "2026-11-27")}, false, ""},
		{"no end date never matches", Spec{EndDateOffsetDays: intp(-3)}, identity.Identity{}, false, ""},
		{"end date instant passed", Spec{EndDateOffsetDays: intp(0)}, identity.Identity{EndDate: endDate(t, "2026-11-26T11:59:59Z")}, true, "end date"},
		{"end date instant ahead", Spec{EndDateOffsetDays: intp(0)}, identity.Identity{EndDate: endDate(t, "2026-11-26T12:00:01Z")}, false, ""},
		{"hook true", Spec{HookCEL: `user.attributes.contract == "fixed-term" && user.endDate < now`}, identity.Identity{EndDate: endDate(t, "2026-11-01"), Attributes: map[string]string{"contract": "fixed-term"}}, true, "hook"},
		{"hook false", Spec{HookCEL: `user.attributes.contract == "fixed-term"`}, identity.Identity{Attributes: map[string]string{"contract": "permanent"}}, false, ""},
		{"hook over accounts", Spec{HookCEL: `accounts.exists(a, a.application == "github" && "admins" in a.groups)`}, identity.Identity{}, true, "hook"},
		{"combined: status fires although end date does not", Spec{Statuses: []string{"TERMINATED"}, EndDateOffsetDays: intp(0)}, identity.Identity{Status: "TERMINATED", EndDate: endDate(t, "2027-01-01")}, true, "status TERMINATED"},
		{"combined: end date fires although status does not", Spec{Statuses: []string{"TERMINATED"}, EndDateOffsetDays: intp(0)}, identity.Identity{Status: "ACTIVE", EndDate: endDate(t, "2026-01-01")}, true, "end date 2026-01-01"},
		{"combined: all fire", Spec{Statuses: []string{"TERMINATED"}, EndDateOffsetDays: intp(0), HookCEL: "true"}, identity.Identity{Status: "TERMINATED", EndDate: endDate(t, "2026-01-01")}, true, "status TERMINATED; end date 2026-01-01 +0 days; hook"},
		{"combined: none fire", Spec{Statuses: []string{"TERMINATED"}, EndDateOffsetDays: intp(0), HookCEL: "false"}, identity.Identity{Status: "ACTIVE"}, false, ""},
	}
	accts := []account.Account{{ApplicationID: "github", NativeID: "1", Entitlements: []account.Entitlement{{ID: "g1", Name: "admins"}}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			d := c.Decide(tc.id, accts, now)
			if d.Err != nil {
				t.Fatalf("unexpected error: %v", d.Err)
			}
			if d.Matched != tc.matched {
				t.Fatalf("matched = %v, want %v (reasons %v)", d.Matched, tc.matched, d.Reasons)
			}
			if !strings.Contains(d.Reason(), tc.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason(), tc.reason)
			}
		})
	}
}

// TestEndDateOffsets moves the clock across the day the trigger fires, in
// a zone with a daylight-saving change in between.
func TestEndDateOffsets(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	// Clocks in Berlin go back from 03:00 CEST to 02:00 CET on 2026-10-25.
	tests := []struct {
		name    string
		offset  int
		end     string
		justNot time.Time // one second before the trigger fires
		fires   time.Time // the moment it fires
	}{
		{"-3 days before an end date after the change", -3, "2026-10-27",
			time.Date(2026, 10, 23, 23, 59, 59, 0, berlin), time.Date(2026, 10, 24, 0, 0, 0, 0, berlin)},
		{"-3 days across the change", -3, "2026-10-26",
			time.Date(2026, 10, 22, 23, 59, 59, 0, berlin), time.Date(2026, 10, 23, 0, 0, 0, 0, berlin)},
		{"0 days on the day of the change", 0, "2026-10-25",
			time.Date(2026, 10, 24, 23, 59, 59, 0, berlin), time.Date(2026, 10, 25, 0, 0, 0, 0, berlin)},
		{"+7 days across the change", 7, "2026-10-20",
			time.Date(2026, 10, 26, 23, 59, 59, 0, berlin), time.Date(2026, 10, 27, 0, 0, 0, 0, berlin)},
		{"+7 days across the spring change", 7, "2026-03-25",
			time.Date(2026, 3, 31, 23, 59, 59, 0, berlin), time.Date(2026, 4, 1, 0, 0, 0, 0, berlin)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(Spec{EndDateOffsetDays: intp(tc.offset), Location: berlin})
			if err != nil {
				t.Fatal(err)
			}
			id := identity.Identity{EndDate: endDate(t, tc.end)}
			if d := c.Decide(id, nil, tc.justNot); d.Matched {
				t.Errorf("at %s: matched, want not yet", tc.justNot)
			}
			if d := c.Decide(id, nil, tc.fires); !d.Matched {
				t.Errorf("at %s: not matched, want matched", tc.fires)
			}
			// The same instants in UTC decide the same.
			if d := c.Decide(id, nil, tc.fires.UTC()); !d.Matched {
				t.Errorf("at %s UTC: not matched", tc.fires.UTC())
			}
		})
	}
}

func TestEndDateUTCMidnight(t *testing.T) {
	t.Parallel()
	c, err := Compile(Spec{EndDateOffsetDays: intp(0)})
	if err != nil {
		t.Fatal(err)
	}
	id := identity.Identity{EndDate: endDate(t, "2026-11-30")}
	if c.Decide(id, nil, time.Date(2026, 11, 29, 23, 59, 59, 0, time.UTC)).Matched {
		t.Error("matched one second before midnight")
	}
	if !c.Decide(id, nil, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)).Matched {
		t.Error("not matched at midnight")
	}
}

func TestGraceDueAt(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		name  string
		grace int
		loc   *time.Location
		first time.Time
		want  time.Time
	}{
		{"zero grace is due at once", 0, nil, time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC), time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)},
		{"seven days", 7, nil, time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC), time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)},
		{"across month and year", 10, nil, time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 7, 0, 0, 0, 0, time.UTC)},
		{"calendar days across DST keep the wall clock", 3, berlin, time.Date(2026, 10, 24, 2, 0, 0, 0, berlin), time.Date(2026, 10, 27, 2, 0, 0, 0, berlin)},
		{"maximum grace", 3650, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 12, 30, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Compile(Spec{Statuses: []string{"X"}, GracePeriodDays: tc.grace, Location: tc.loc})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.DueAt(tc.first); !got.Equal(tc.want) {
				t.Errorf("DueAt = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	spec := Spec{
		ID: "leavers", Statuses: []string{"TERMINATED"}, Scope: `user.department != "board"`, GracePeriodDays: 7,
		Exclusions: map[string]Exclusion{"payroll": {Reason: "payroll runs the final salary"}},
		Actions:    map[string]account.Action{"github": account.Delete, "ldap": account.Disable, "payroll": account.Disable, "wiki": account.Revoke},
	}
	c, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	leaver := identity.Identity{SourceID: "hr", ExternalID: "2", UserName: "bob", Status: "TERMINATED"}
	accts := []account.Account{
		{ApplicationID: "ldap", NativeID: "uid=bob", UserName: "bob", State: account.Active},
		{ApplicationID: "github", NativeID: "g-bob", UserName: "bob", State: account.Active},
		{ApplicationID: "payroll", NativeID: "p-bob", UserName: "bob", State: account.Active},
		{ApplicationID: "wiki", NativeID: "w-bob", UserName: "bob", State: account.Active},
		{ApplicationID: "gone", NativeID: "x", UserName: "bob", State: account.Active},
		{ApplicationID: "old", NativeID: "y", UserName: "bob", State: account.Deleted},
	}
	first := now.AddDate(0, 0, -2)
	items, d := c.Plan(PlanInput{Identity: leaver, Accounts: accts, FirstMatch: first,
		Active: map[string]bool{ActiveKey("ldap", "uid=bob", account.Disable): true}}, now)
	if !d.Matched {
		t.Fatal("not matched")
	}
	got := map[string]Item{}
	for _, it := range items {
		got[it.ApplicationID] = it
	}
	if len(items) != 5 {
		t.Fatalf("got %d items, want 5 (deleted account left out): %+v", len(items), items)
	}
	check := func(app string, skip Skip, act account.Action) {
		t.Helper()
		it := got[app]
		if it.Skip != skip || it.Action != act {
			t.Errorf("%s: skip %q action %q, want skip %q action %q", app, it.Skip, it.Action, skip, act)
		}
	}
	check("github", "", account.Delete)
	check("ldap", SkipAlreadyScheduled, account.Disable)
	check("payroll", SkipExcluded, "")
	check("wiki", SkipAlreadyDone, account.Revoke) // no groups: nothing to revoke
	check("gone", SkipUnknownApplication, "")
	if want := first.AddDate(0, 0, 7); !got["github"].DueAt.Equal(want) {
		t.Errorf("due %s, want first match + 7 days %s", got["github"].DueAt, want)
	}
	if got["payroll"].Reason != "payroll runs the final salary" {
		t.Errorf("exclusion reason = %q", got["payroll"].Reason)
	}

	t.Run("no account", func(t *testing.T) {
		items, _ := c.Plan(PlanInput{Identity: leaver}, now)
		if len(items) != 1 || items[0].Skip != SkipNoAccount {
			t.Fatalf("items = %+v, want one no-account skip", items)
		}
	})
	t.Run("out of scope", func(t *testing.T) {
		board := leaver
		board.Department = "board"
		items, d := c.Plan(PlanInput{Identity: board, Accounts: accts}, now)
		if d.Matched || d.InScope {
			t.Fatalf("decision %+v, want out of scope", d)
		}
		if len(items) != 1 || items[0].Skip != SkipOutOfScope {
			t.Fatalf("items = %+v, want one out-of-scope skip", items)
		}
	})
	t.Run("not matched yields nothing", func(t *testing.T) {
		active := leaver
		active.Status = "ACTIVE"
		if items, _ := c.Plan(PlanInput{Identity: active, Accounts: accts}, now); len(items) != 0 {
			t.Fatalf("items = %+v, want none", items)
		}
	})
	t.Run("first match zero means now", func(t *testing.T) {
		items, _ := c.Plan(PlanInput{Identity: leaver, Accounts: accts[1:2]}, now)
		if want := now.AddDate(0, 0, 7); !items[0].DueAt.Equal(want) {
			t.Fatalf("due %s, want %s", items[0].DueAt, want)
		}
	})
}

func TestHookErrorNeverDeprovisions(t *testing.T) {
	t.Parallel()
	c, err := Compile(Spec{HookCEL: `user.endDate < now`, Actions: map[string]account.Action{"a": account.Disable}})
	if err != nil {
		t.Fatal(err)
	}
	// No end date: reading the missing key is an evaluation error.
	items, d := c.Plan(PlanInput{Identity: identity.Identity{UserName: "x"}, Accounts: []account.Account{{ApplicationID: "a", NativeID: "1"}}}, time.Now())
	if d.Matched || d.Err == nil {
		t.Fatalf("decision %+v, want unmatched with an error", d)
	}
	if len(items) != 1 || items[0].Skip != SkipHookError || !strings.Contains(items[0].Reason, "endDate") {
		t.Fatalf("items = %+v, want one hook-error skip naming endDate", items)
	}
}

// TestURLHookOnlyInScope: a URL hook is not called for an identity out of
// the rule's scope, so that its data does not leave deprov.
func TestURLHookOnlyInScope(t *testing.T) {
	t.Parallel()
	var called []string
	c, err := Compile(Spec{Scope: `user.department != "board"`,
		HookFunc: func(id identity.Identity, _ []account.Account) (bool, string, error) {
			called = append(called, id.UserName)
			return true, "left", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	in := c.Decide(identity.Identity{UserName: "bob", Department: "eng"}, nil, time.Now())
	out := c.Decide(identity.Identity{UserName: "dave", Department: "board"}, nil, time.Now())
	if !in.Matched || out.Matched || out.InScope {
		t.Fatalf("decisions %+v and %+v, want bob matched and dave out of scope", in, out)
	}
	if len(called) != 1 || called[0] != "bob" {
		t.Fatalf("hook called for %v, want bob only", called)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no trigger", Spec{}, "set at least one of"},
		{"syntax error with position", Spec{HookCEL: `user.status == `}, "trigger.hook.cel: line 1, column"},
		{"undeclared variable", Spec{HookCEL: `person.status == "x"`}, "undeclared reference to 'person'"},
		{"not bool", Spec{HookCEL: `"yes"`}, "want bool"},
		{"bad scope", Spec{Statuses: []string{"X"}, Scope: `user.(`}, "scope: line 1, column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCELCostLimit(t *testing.T) {
	t.Parallel()
	// A comprehension over a large generated list exceeds the cost limit
	// instead of running away.
	c, err := Compile(Spec{HookCEL: `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))`})
	if err != nil {
		t.Fatal(err)
	}
	d := c.Decide(identity.Identity{}, nil, time.Now())
	if d.Err == nil || !strings.Contains(d.Err.Error(), "cost") {
		t.Fatalf("err = %v, want a cost limit error", d.Err)
	}
}

func BenchmarkDecide(b *testing.B) {
	c, err := Compile(Spec{Statuses: []string{"TERMINATED"}, EndDateOffsetDays: intp(0), HookCEL: `user.attributes.contract == "fixed-term"`})
	if err != nil {
		b.Fatal(err)
	}
	id := identity.Identity{SourceID: "hr", ExternalID: "1", UserName: "u", Status: "ACTIVE", Attributes: map[string]string{"contract": "permanent"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		c.Decide(id, nil, now)
	}
}

// TestExclusionExpiry moves the clock past an exclusion's end: from then on
// the rule plans the application and says the exclusion expired.
func TestExclusionExpiry(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c, err := Compile(Spec{Statuses: []string{"TERMINATED"},
		Exclusions: map[string]Exclusion{"portal": {Reason: "payslips for 90 days", Until: until}},
		Actions:    map[string]account.Action{"portal": account.Disable}})
	if err != nil {
		t.Fatal(err)
	}
	in := PlanInput{Identity: identity.Identity{UserName: "bob", Status: "TERMINATED"},
		Accounts: []account.Account{{ApplicationID: "portal", NativeID: "p1", State: account.Active}}}
	before, _ := c.Plan(in, until.Add(-time.Second))
	if before[0].Skip != SkipExcluded || !strings.Contains(before[0].Reason, "payslips for 90 days (until 2026-12-01") {
		t.Fatalf("before expiry: %+v, want excluded with reason and end", before[0])
	}
	after, _ := c.Plan(in, until)
	if !after[0].Planned() || after[0].Action != account.Disable || !strings.Contains(after[0].Reason, "exclusion of portal expired 2026-12-01") {
		t.Fatalf("at expiry: %+v, want planned and saying the exclusion expired", after[0])
	}
}
