package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/store"
)

func decodeJSON(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }

func TestMetrics(t *testing.T) {
	b := setup(t)
	b.seed(t)
	b.a.Metrics().ObserveConnector("github", "disable", 120*time.Millisecond, nil)
	b.a.Metrics().ObserveConnector("github", "disable", 3*time.Second, errors.New("timeout"))
	var nilMetrics *Metrics
	nilMetrics.ObserveConnector("x", "y", time.Second, nil) // a nil Metrics is a no-op
	b.do(t, http.MethodGet, "/api/v1/rules", b.tok[store.RoleAuditor], "")
	r := b.do(t, http.MethodGet, "/metrics", b.tok[store.RoleAuditor], "")
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d %s", r.status, r.body)
	}
	text := string(r.body)
	for _, want := range []string{
		`deprov_runs{rule="leavers",state="completed"} 1`,
		`deprov_revocations{application="github",state="scheduled"} 1`,
		`deprov_revocations{application="gitlab",state="scheduled"} 1`,
		`deprov_queue_depth 2`,
		`deprov_connector_call_duration_seconds_count{action="disable",application="github"} 2`,
		`deprov_connector_call_errors_total{action="disable",application="github"} 1`,
		`deprov_http_requests_total{code="2xx",method="GET",route="GET /api/v1/rules"} 1`,
		`deprov_build_info{version="test"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	wantProblem(t, b.do(t, http.MethodGet, "/metrics", "", ""), http.StatusUnauthorized)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := b.do(t, http.MethodGet, p, "", ""); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	b.st.Close()
	if r := b.do(t, http.MethodGet, "/readyz", "", ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed: %d, want 503", r.status)
	}
	if r := b.do(t, http.MethodGet, "/healthz", "", ""); r.status != http.StatusOK {
		t.Errorf("healthz with the database closed: %d, want 200", r.status)
	}
}

// logLines parses the JSON log.
func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func TestRequestLogAndID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodGet, "/api/v1/rules?search=secret-query", b.tok[store.RoleAuditor], "", RequestIDHeader, "abc-123")
	if got := r.header.Get(RequestIDHeader); got != "abc-123" {
		t.Errorf("X-Request-Id echoed %q, want abc-123", got)
	}
	r2 := b.do(t, http.MethodPut, "/api/v1/rules/x", adminSecret, `{"name":"body-content-77","trigger":{"statuses":["X"]}}`, RequestIDHeader, "bad id with spaces")
	gen := r2.header.Get(RequestIDHeader)
	if gen == "" || strings.Contains(gen, " ") {
		t.Errorf("generated request id %q", gen)
	}
	var found, foundGen bool
	for _, l := range logLines(t, b.logs.String()) {
		if l["msg"] != "http request" {
			continue
		}
		switch l["request_id"] {
		case "abc-123":
			found = true
			if l["method"] != "GET" || l["path"] != "/api/v1/rules" || l["status"] != float64(200) || l["actor"] != "token:test-auditor" {
				t.Errorf("log line %v", l)
			}
			if _, ok := l["duration_ms"].(float64); !ok {
				t.Errorf("log line without duration_ms: %v", l)
			}
		case gen:
			foundGen = true
			if l["status"] != float64(200) || l["method"] != "PUT" {
				t.Errorf("log line %v", l)
			}
		}
	}
	if !found || !foundGen {
		t.Errorf("request log lines missing:\n%s", b.logs)
	}
	logs := b.logs.String()
	for _, s := range []string{"secret-query", "body-content-77", adminSecret, b.tok[store.RoleAuditor], "Bearer"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains %q", s)
		}
	}
}
