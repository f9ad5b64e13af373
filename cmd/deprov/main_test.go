package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/store"
)

// cli runs deprov in-process against a database in dir.
func cli(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"--db", filepath.Join(dir, "deprov.db")}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const baseConfig = `applications:
  - id: app
    connector: {type: scim, url: "http://127.0.0.1:1/scim/v2", token: "${env:DEPROV_CLI_TEST_TOKEN}"}
    correlation: {account: userName, identity: userName}
  - id: payroll
    connector: {type: scim, url: "http://127.0.0.1:1/scim/v2", token: "literal-secret-value"}
sources:
  - id: hr
    type: csv
    path: ./hr.csv
    columns: {externalId: employee_id, userName: login, status: status, endDate: end_date}
rules:
  - id: leavers
    trigger: {statuses: [TERMINATED], endDate: {offsetDays: 0}}
    excludeApplications: [payroll]
    gracePeriodDays: 0
    processAllocationSize: 4
    schedule: {cron: "0 0 2 * * ?", timezone: Europe/Berlin, active: true}
`

func TestApplyExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := write(t, dir, "deprov.yaml", baseConfig)
	code, out, errs := cli(t, dir, "apply", "-f", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "create") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: code %d\n%s\n%s", code, out, errs)
	}
	if _, out, _ := cli(t, dir, "export"); strings.Contains(out, "leavers") {
		t.Fatalf("dry run applied something:\n%s", out)
	}
	if code, out, errs := cli(t, dir, "apply", "-f", cfg); code != 0 {
		t.Fatalf("apply: code %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = cli(t, dir, "export")
	if code != 0 || !strings.Contains(out, "id: leavers") || !strings.Contains(out, "${env:DEPROV_CLI_TEST_TOKEN}") {
		t.Fatalf("export: code %d\n%s", code, out)
	}
	if strings.Contains(out, "literal-secret-value") {
		t.Fatalf("export printed a secret:\n%s", out)
	}
	for _, args := range [][]string{{"export", "-o", "json"}, {"audit", "list", "-o", "json"}, {"audit", "list"}} {
		if _, out, errs := cli(t, dir, args...); strings.Contains(out+errs, "literal-secret-value") {
			t.Fatalf("%v printed a secret", args)
		}
	}
	if code, out, _ := cli(t, dir, "apply", "-f", cfg); code != 0 || !strings.Contains(out, "no changes") {
		t.Fatalf("re-apply: code %d, %s", code, out)
	}
}

// TestBadInputChangesNothing: each bad input exits 2 with a message naming
// what is wrong, and the database is as it was.
func TestBadInputChangesNothing(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := cli(t, dir, "apply", "-f", write(t, dir, "good.yaml", baseConfig)); code != 0 {
		t.Fatal(errs)
	}
	write(t, dir, "hr.csv", "employee_id,login,status,end_date\n1,alice,ACTIVE,2027-01-01\n")
	if code, _, errs := cli(t, dir, "import", "identities", "--source", "hr", filepath.Join(dir, "hr.csv")); code != 0 {
		t.Fatal(errs)
	}
	_, before, _ := cli(t, dir, "export")
	_, auditBefore, _ := cli(t, dir, "audit", "list", "-o", "json")
	identities := func() string {
		t.Helper()
		st := testdb.SQLite(t, dir, nil)
		ids, err := st.ListIdentities(t.Context(), store.IdentityQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ids)
		return string(b)
	}
	identitiesBefore := identities()

	bad := func(from, to string) string { return strings.Replace(baseConfig, from, to, 1) }
	tests := []struct {
		name string
		args func() []string
		want []string
	}{
		{"invalid cron", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`cron: "0 0 2 * * ?"`, `cron: "0 0 25 * * ?"`))}
		}, []string{"rules[0].schedule.cron", "hour"}},
		{"invalid CEL", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`gracePeriodDays: 0`, "gracePeriodDays: 0\n    scope: 'user.department =! \"x\"'"))}
		}, []string{"rules[0].scope", "line 1, column"}},
		{"grace -1", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`gracePeriodDays: 0`, `gracePeriodDays: -1`))}
		}, []string{"rules[0].gracePeriodDays", "between 0 and 3650"}},
		{"grace 4000", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`gracePeriodDays: 0`, `gracePeriodDays: 4000`))}
		}, []string{"rules[0].gracePeriodDays", "4000"}},
		{"allocation 0", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`processAllocationSize: 4`, `processAllocationSize: 0`))}
		}, []string{"rules[0].processAllocationSize", "between 1 and 256"}},
		{"allocation 257", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`processAllocationSize: 4`, `processAllocationSize: 257`))}
		}, []string{"rules[0].processAllocationSize", "257"}},
		{"unknown excluded application", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`excludeApplications: [payroll]`, `excludeApplications: [jira]`))}
		}, []string{"rules[0].excludeApplications[0]", `unknown application "jira"`}},
		{"several problems at once", func() []string {
			return []string{"apply", "-f", write(t, dir, "c.yaml", bad(`processAllocationSize: 4`, `processAllocationSize: 0`)+"  - id: Bad_Id\n    trigger: {}\n")}
		}, []string{"rules[0].processAllocationSize", "rules[1].id", "rules[1].trigger"}},
		{"csv with an unparseable date", func() []string {
			return []string{"import", "identities", "--source", "hr", write(t, dir, "bad.csv", "employee_id,login,status,end_date\n1,alice,TERMINATED,2027-01-01\n2,bob,TERMINATED,31/12/2026\n")}
		}, []string{"line 3", "end_date", "31/12/2026"}},
		{"unknown source", func() []string { return []string{"sync", "nope"} }, []string{`unknown source "nope"`}},
		{"unknown rule", func() []string { return []string{"run", "nope", "--dry-run"} }, []string{`unknown rule "nope"`}},
		{"unknown revocation", func() []string { return []string{"revocations", "cancel", "99"} }, []string{"unknown revocation 99"}},
		{"revocation id not a number", func() []string { return []string{"revocations", "cancel", "x"} }, []string{"positive number"}},
		{"unknown state", func() []string { return []string{"revocations", "list", "--state", "gone"} }, []string{`--state "gone"`}},
		{"unknown flag", func() []string { return []string{"runs", "list", "--bogus"} }, []string{"bogus"}},
		{"bad output format", func() []string { return []string{"runs", "list", "-o", "xml"} }, []string{"-o must be table or json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, dir, tc.args()...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if _, after, _ := cli(t, dir, "export"); after != before {
				t.Errorf("configuration changed:\n%s", after)
			}
			if _, auditAfter, _ := cli(t, dir, "audit", "list", "-o", "json"); auditAfter != auditBefore {
				t.Errorf("audit changed")
			}
			if after := identities(); after != identitiesBefore {
				t.Errorf("identities changed:\n%s\nwere\n%s", after, identitiesBefore)
			}
		})
	}
}
