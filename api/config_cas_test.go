package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/internal/testdb"
)

// TestConcurrentEditsAcrossNodes: two nodes on one database take edits of
// different rules at the same time. Each edit is applied only over the
// configuration version it was made from and made again when another node
// got in first, so every rule is there at the end: no edit undoes another.
func TestConcurrentEditsAcrossNodes(t *testing.T) {
	t.Parallel()
	a := setup(t)
	// A second node: its own store handle, engine and API on the same file.
	st := testdb.SQLite(t, a.dir, a.clock.Now)
	e, err := engine.New(engine.Options{Store: st, Now: a.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	other, err := New(Options{Engine: e, Version: "test", Now: a.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(other.Handler())
	t.Cleanup(srv.Close)

	const n = 16
	var wg sync.WaitGroup
	status := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			base := a.srv.URL
			if i%2 == 1 {
				base = srv.URL
			}
			req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/v1/rules/r%02d", base, i),
				strings.NewReader(`{"trigger":{"statuses":["TERMINATED"]}}`))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adminSecret)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			res.Body.Close()
			status[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || status[i] != http.StatusOK {
			t.Errorf("PUT r%02d: %d %v", i, status[i], errs[i])
		}
	}
	cfg, ver, err := a.st.Config(a.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != n || ver != n {
		var ids []string
		for _, r := range cfg.Rules {
			ids = append(ids, r.ID)
		}
		t.Fatalf("after %d edits: version %d with rules %v, want every rule", n, ver, ids)
	}
}
