package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/store"
)

// TestDemoDisablesTheLeavers runs `deprov demo` as a newcomer would and
// waits for what its banner promises: the "leavers" rule, firing every
// 20 s, disables bob (terminated) and carol (past her end date) in the
// sandbox application, and nobody else: not alice (active), dave
// (inactive, another rule's business) or erin (terminated, but on the
// board, which the rule's scope leaves out).
func TestDemoDisablesTheLeavers(t *testing.T) {
	// The demo puts the sandbox's token in the environment; put back what
	// was there. And let it generate its first admin token, as on a fresh
	// machine.
	t.Setenv("DEPROV_DEMO_SANDBOX_TOKEN", "")
	t.Setenv(api.BootstrapTokenEnv, "")
	dir := t.TempDir()
	demo := startBackground(t, "demo", "--addr", "127.0.0.1:0", "--dir", dir)

	console := regexp.MustCompile(`(?m)^\s*console\s+(http://127\.0\.0\.1:\d+)/`)
	var base string
	demo.until(t, 30*time.Second, "banner with the console's address", func() bool {
		if m := console.FindStringSubmatch(demo.stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})

	want := map[string]string{"alice": "active", "bob": "disabled", "carol": "disabled", "dave": "active", "erin": "active"}
	var got map[string]string
	// The rule's first tick is at most 20 s away, plus the configuration
	// reload and the workers' pick-up.
	demo.until(t, 40*time.Second, "bob and carol disabled in the sandbox", func() bool {
		got = sandboxStates(t, base)
		return got["bob"] == "disabled" && got["carol"] == "disabled"
	})
	if code := demo.stop(t); code != 0 {
		t.Fatalf("demo exited with code %d after Ctrl-C\n%s", code, demo.stderr.String())
	}
	if !maps.Equal(got, want) {
		t.Errorf("sandbox accounts %v, want %v", got, want)
	}

	// deprov's record: one disabling of each leaver, carried out, and no
	// revocation of anyone else, in whatever state.
	code, out, errs := cli(t, dir, "revocations", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("revocations list: exit %d\n%s", code, errs)
	}
	var revs []store.Revocation
	if err := json.Unmarshal([]byte(out), &revs); err != nil {
		t.Fatalf("revocations list -o json: %v\n%s", err, out)
	}
	var recorded []string
	for _, r := range revs {
		recorded = append(recorded, r.UserName)
		if r.RuleID != "leavers" || r.ApplicationID != "sandbox" || r.Action != "disable" || r.State != store.Succeeded {
			t.Errorf("revocation %d of %s: rule %s, application %s, action %s, state %s; want a succeeded disable by leavers in sandbox",
				r.ID, r.UserName, r.RuleID, r.ApplicationID, r.Action, r.State)
		}
	}
	slices.Sort(recorded)
	if !slices.Equal(recorded, []string{"bob", "carol"}) {
		t.Errorf("revocations of %v, want exactly bob and carol", recorded)
	}

	// The log tells the same story, from the application's side.
	var logged []string
	for _, m := range regexp.MustCompile(`msg="sandbox: account disabled" userName=(\S+)`).FindAllStringSubmatch(demo.stderr.String(), -1) {
		logged = append(logged, m[1])
	}
	slices.Sort(logged)
	if !slices.Equal(logged, []string{"bob", "carol"}) {
		t.Errorf(`"sandbox: account disabled" logged for %v, want bob and carol`, logged)
	}
}

// sandboxStates reads the demo's account page (GET /sandbox): user name to
// "active" or "disabled".
func sandboxStates(t *testing.T, base string) map[string]string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/sandbox")
	if err != nil {
		t.Fatalf("GET /sandbox: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sandbox: %s, %v\n%s", resp.Status, err, body)
	}
	lines := strings.Split(strings.TrimRight(string(body), "\n"), "\n")
	col := strings.Index(lines[0], "STATE")
	if !strings.HasPrefix(lines[0], "USER") || col < 0 {
		t.Fatalf("GET /sandbox: unexpected header:\n%s", body)
	}
	states := map[string]string{}
	for _, l := range lines[1:] {
		if len(l) <= col {
			t.Fatalf("GET /sandbox: short row %q", l)
		}
		states[strings.Fields(l)[0]] = strings.Fields(l[col:])[0]
	}
	return states
}
