package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/scimtarget"
)

// TestRunDryRunPlan: `deprov run RULE --dry-run` prints the plan, every
// planned revocation and every skip with its reason, and changes nothing.
func TestRunDryRunPlan(t *testing.T) {
	tg := scimtarget.Start(t)
	t.Setenv("DEPROV_CLI_TEST_TOKEN", tg.Token)
	bobID := tg.CreateUser(t, "bob", true)
	tg.CreateUser(t, "alice", true)
	tg.CreateUser(t, "carol", true)
	tg.CreateUser(t, "dan", false) // disabled already
	tg.CreateUser(t, "erin", true)

	dir := t.TempDir()
	now := time.Now()
	hr := write(t, dir, "hr.csv", "employee_id,login,status,end_date,department\n"+
		"1,alice,ACTIVE,"+now.AddDate(0, 3, 0).Format(time.DateOnly)+",engineering\n"+
		"2,bob,TERMINATED,,engineering\n"+
		"3,carol,ACTIVE,"+now.AddDate(0, 0, -2).Format(time.DateOnly)+",finance\n"+
		"4,dan,TERMINATED,,engineering\n"+
		"5,erin,TERMINATED,,board\n"+
		"6,frank,TERMINATED,,engineering\n")
	// Two applications on the one target, so that every account has a
	// twin in the excluded payroll application.
	cfg := write(t, dir, "deprov.yaml", `applications:
  - id: app
    connector: {type: scim, url: "`+tg.URL+`", token: "${env:DEPROV_CLI_TEST_TOKEN}"}
    correlation: {account: userName, identity: userName}
    action: disable
  - id: payroll
    connector: {type: scim, url: "`+tg.URL+`", token: "${env:DEPROV_CLI_TEST_TOKEN}"}
    correlation: {account: userName, identity: userName}
    action: disable
sources:
  - id: hr
    type: csv
    path: `+hr+`
    columns: {externalId: employee_id, userName: login, status: status, endDate: end_date, department: department}
rules:
  - id: leavers
    trigger: {statuses: [TERMINATED], endDate: {offsetDays: 0}}
    scope: 'user.department != "board"'
    excludeApplications: [payroll]
    gracePeriodDays: 0
    processAllocationSize: 4
    schedule: {cron: "0 0 2 * * ?", timezone: Europe/Berlin, active: true}
`)
	for _, args := range [][]string{
		{"apply", "-f", cfg},
		{"import", "identities", "--source", "hr", hr},
		{"aggregate", "app"},
		{"aggregate", "payroll"},
	} {
		if code, out, errs := cli(t, dir, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}

	code, out, errs := cli(t, dir, "run", "leavers", "--dry-run")
	if code != 0 {
		t.Fatalf("run leavers --dry-run: exit %d\n%s%s", code, out, errs)
	}
	head, plan, ok := strings.Cut(out, "\n\n")
	if !ok {
		t.Fatalf("run leavers --dry-run printed no plan:\n%s", out)
	}
	const wantHead = "dry run of rule leavers: nothing was changed\n" +
		"evaluated 6, in scope 5, matched 4, planned 2 revocation(s) for 2 user(s), skipped 6"
	if head != wantHead {
		t.Errorf("run leavers --dry-run began\n%s\nwant\n%s", head, wantHead)
	}
	// identity/application → DUE / SKIP ("" for a due time: planned),
	// ACTION, and a part of the REASON.
	type row struct{ due, action, reason string }
	ended := "end date " + now.AddDate(0, 0, -2).Format(time.DateOnly) + " +0 days"
	want := map[string]row{
		"bob/app":       {"", "disable", "status TERMINATED"},
		"carol/app":     {"", "disable", ended},
		"bob/payroll":   {"skip: excluded", "-", "status TERMINATED"},
		"carol/payroll": {"skip: excluded", "-", ended},
		"dan/app":       {"skip: already done", "disable", "account is disabled"},
		"dan/payroll":   {"skip: excluded", "-", "status TERMINATED"},
		"erin/-":        {"skip: out of scope", "-", "status TERMINATED"},
		"frank/-":       {"skip: no account", "-", "status TERMINATED"},
	}
	rows := parseTable(t, plan)
	got := map[string]bool{}
	for _, r := range rows {
		key := r["IDENTITY"] + "/" + r["APPLICATION"]
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected plan line %v", r)
			continue
		}
		got[key] = true
		if w.due == "" {
			if _, err := time.Parse("2006-01-02 15:04:05 MST", r["DUE / SKIP"]); err != nil {
				t.Errorf("%s: DUE %q, want a due time (planned)", key, r["DUE / SKIP"])
			}
		} else if r["DUE / SKIP"] != w.due {
			t.Errorf("%s: DUE / SKIP %q, want %q", key, r["DUE / SKIP"], w.due)
		}
		if r["ACTION"] != w.action || !strings.Contains(r["REASON"], w.reason) {
			t.Errorf("%s: ACTION %q, REASON %q; want %q, a reason with %q", key, r["ACTION"], r["REASON"], w.action, w.reason)
		}
		if account := r["ACCOUNT"]; r["APPLICATION"] != "-" && account != r["IDENTITY"] || r["APPLICATION"] == "-" && account != "-" {
			t.Errorf("%s: ACCOUNT %q", key, account)
		}
		if r["STATE"] != "-" {
			t.Errorf("%s: STATE %q in a dry run", key, r["STATE"])
		}
	}
	for key := range want {
		if !got[key] {
			t.Errorf("the plan lacks %s:\n%s", key, plan)
		}
	}

	// Nothing was changed: no run, no revocation, bob still active.
	for _, args := range [][]string{{"runs", "list", "-o", "json"}, {"revocations", "list", "-o", "json"}} {
		_, out, _ := cli(t, dir, args...)
		var v []json.RawMessage
		if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 0 {
			t.Errorf("%v after a dry run: %v\n%s", args, err, out)
		}
	}
	if u, _ := tg.User(t, bobID); u["active"] != true {
		t.Errorf("bob's account after a dry run: %v", u)
	}
}

// parseTable reads a table the CLI printed: one map per row, from the
// header's column names to the trimmed cells. The columns start where
// their names do, as the table is aligned on them.
func parseTable(t *testing.T, s string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	header := lines[0]
	var names []string
	var starts []int
	for i := 0; i < len(header); {
		// a column name is words separated by single spaces
		j := strings.Index(header[i:], "  ")
		end := len(header)
		if j >= 0 {
			end = i + j
		}
		names, starts = append(names, header[i:end]), append(starts, i)
		i = end
		for i < len(header) && header[i] == ' ' {
			i++
		}
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		r := map[string]string{}
		for k, name := range names {
			from, to := starts[k], len(l)
			if k+1 < len(starts) {
				to = min(starts[k+1], len(l))
			}
			if from > len(l) {
				t.Fatalf("short table row %q under %q", l, header)
			}
			r[name] = strings.TrimSpace(l[from:to])
		}
		rows = append(rows, r)
	}
	return rows
}
