package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/testdb"
	"github.com/deprov/deprov/rule"
)

// TestURLHook: the hook's answer decides; an error, a timeout or a
// malformed answer never deprovisions and the run says so.
func TestURLHook(t *testing.T) {
	ctx := context.Background()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Rule     string `json:"rule"`
			Identity struct {
				UserName string `json:"userName"`
			} `json:"identity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Rule != "custom" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch req.Identity.UserName {
		case "yes":
			w.Write([]byte(`{"deprovision": true, "reason": "contractor ended in vendor portal"}`))
		case "no":
			w.Write([]byte(`{"deprovision": false}`))
		case "broken":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "garbled":
			w.Write([]byte(`{"deprovision": "maybe"}`))
		case "slow":
			<-r.Context().Done() // never answers; the client gives up
		}
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	st := testdb.SQLite(t, dir, nil)
	e, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "hr.csv")
	if err := os.WriteFile(csv, []byte("externalId,userName\n1,yes\n2,no\n3,broken\n4,garbled\n5,slow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	applyYAML(t, e, `
sources:
  - {id: hr, type: csv, path: `+csv+`}
rules:
  - id: custom
    trigger: {hook: {url: "`+hook.URL+`/decide", timeoutSeconds: 1}}
`)
	if _, err := e.Sync(ctx, "hr", "test"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run, err := e.Run(ctx, "custom", engine.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Matched != 1 {
		t.Errorf("matched %d, want 1", run.Counts.Matched)
	}
	got := map[string]rule.Item{}
	for _, it := range run.Items {
		got[it.UserName] = it
	}
	if it := got["yes"]; it.Skip != rule.SkipNoAccount || !strings.Contains(it.Reason, "contractor ended in vendor portal") {
		t.Errorf("yes: %+v, want matched with the hook's reason", it)
	}
	if _, ok := got["no"]; ok {
		t.Errorf("no: %+v, want no item", got["no"])
	}
	for user, want := range map[string]string{"broken": "500", "garbled": "deprovision", "slow": "no answer within 1s"} {
		it := got[user]
		if it.Skip != rule.SkipHookError || !strings.Contains(it.Reason, want) {
			t.Errorf("%s: %+v, want a hook error containing %q", user, it, want)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s: the hook timeout did not bound it", took)
	}
}

// TestURLHookCallsInParallel: a URL hook is called for up to the rule's
// process allocation size identities at once, never more. The hook answers
// only once as many calls as the allocation size are waiting, so a run
// that called it one identity at a time would see every call time out.
func TestURLHookCallsInParallel(t *testing.T) {
	ctx := context.Background()
	const alloc = 4
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == alloc {
			close(release)
		}
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Write([]byte(`{"deprovision": true}`))
	}))
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	st := testdb.SQLite(t, dir, nil)
	e, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	rows.WriteString("externalId,userName\n")
	for i := range 12 {
		fmt.Fprintf(&rows, "%d,u%d\n", i, i)
	}
	csv := filepath.Join(dir, "hr.csv")
	if err := os.WriteFile(csv, []byte(rows.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	applyYAML(t, e, `
sources:
  - {id: hr, type: csv, path: `+csv+`}
rules:
  - id: custom
    trigger: {hook: {url: "`+hook.URL+`/decide", timeoutSeconds: 5}}
    processAllocationSize: 4
`)
	if _, err := e.Sync(ctx, "hr", "test"); err != nil {
		t.Fatal(err)
	}
	run, err := e.Run(ctx, "custom", engine.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Matched != 12 {
		t.Fatalf("matched %d of 12 (items %+v): the hook calls did not run together", run.Counts.Matched, run.Items)
	}
	if most != alloc {
		t.Fatalf("at most %d hook calls at once, want %d", most, alloc)
	}
}
