package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

// Rig is an engine serving one rule, `leavers` (status TERMINATED, grace 0,
// disable), over identities that have all left and whose accounts live in
// a SCIM target: running the rule revokes every one of them, through River
// jobs, the connector and the store, exactly as `deprov serve` does.
type Rig struct {
	E     *engine.Engine
	Store store.Store
	n     int
	log   *outcomes
}

// RigOptions shape a Rig.
type RigOptions struct {
	// Store is a migrated, empty store.
	Store store.Store
	// URL and Token reach the SCIM target.
	URL, Token string
	// NativeIDs are the leavers' accounts in the target, one per leaver.
	NativeIDs []string
	// Alloc is the rule's process allocation size.
	Alloc int
	// OtherAccounts adds that many more active accounts to the application,
	// correlated to no one: an application is rarely used by leavers only.
	OtherAccounts int
	// PollInterval is the engine's; zero keeps its default (what serve uses).
	PollInterval time.Duration
}

// NewRig stores the configuration, the leavers and their accounts (as a
// sync and an aggregation would), and returns the rig, not yet started.
func NewRig(ctx context.Context, o RigOptions) (*Rig, error) {
	rule := fmt.Sprintf(`
  - id: leavers
    trigger: {statuses: [TERMINATED]}
    action: disable
    processAllocationSize: %d
`, o.Alloc)
	cfg, err := Config(o.URL, o.Token, rule)
	if err != nil {
		return nil, err
	}
	if err := Apply(ctx, o.Store, cfg); err != nil {
		return nil, err
	}
	n := len(o.NativeIDs)
	acct := func(i int) account.Account {
		if i < n {
			return Account(i, o.NativeIDs[i])
		}
		a := Account(i, fmt.Sprintf("other-%07d", i))
		a.IdentityID = ""
		return a
	}
	if _, _, err := LoadAccounts(ctx, o.Store, n, n+o.OtherAccounts, 10_000, Leaver, acct); err != nil {
		return nil, err
	}
	log := &outcomes{}
	e, err := engine.New(engine.Options{Store: o.Store, Logger: slog.New(log), PollInterval: o.PollInterval})
	if err != nil {
		return nil, err
	}
	return &Rig{E: e, Store: o.Store, n: len(o.NativeIDs), log: log}, nil
}

// Start starts the engine's workers.
func (r *Rig) Start(ctx context.Context) error { return r.E.Start(ctx) }

// Stop stops the workers and closes the connectors.
func (r *Rig) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = r.E.Stop(ctx)
	r.E.Close()
}

// Result is one timed run of the rule.
type Result struct {
	// N is how many revocations succeeded.
	N int
	// Planned is how long Run took (evaluation, storing the run, queueing).
	Planned time.Duration
	// Elapsed is from calling Run to the last revocation recorded succeeded.
	Elapsed time.Duration
	// Done holds when each revocation was recorded succeeded, since Run
	// was called, in order.
	Done []time.Duration
	// CPU is the CPU time this process used from Run to the last success
	// (deprov, and a fake target when it runs in the process): unlike
	// Elapsed, it barely moves when other processes load the machine.
	CPU time.Duration
}

// CPUPerRevocation is CPU divided by the revocations.
func (r Result) CPUPerRevocation() time.Duration {
	if r.N == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.N)
}

// Rate is revocations per second from Run to the last success.
func (r Result) Rate() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// SteadyRate is revocations per second between the 10th and the 90th
// percentile of completions: the rate once the workers are all busy, free
// of the start (evaluation, first fetch) and of the tail.
func (r Result) SteadyRate() float64 {
	lo, hi := len(r.Done)/10, len(r.Done)*9/10
	if hi <= lo || r.Done[hi] <= r.Done[lo] {
		return r.Rate()
	}
	return float64(hi-lo) / (r.Done[hi] - r.Done[lo]).Seconds()
}

// RunAll runs the rule and waits until every leaver's revocation
// succeeded, then checks the store agrees.
func (r *Rig) RunAll(ctx context.Context, timeout time.Duration) (Result, error) {
	r.log.reset(r.n)
	cpu0 := processCPU()
	start := time.Now()
	r.log.start = start
	run, err := r.E.Run(ctx, "leavers", engine.RunOptions{Actor: "bench"})
	if err != nil {
		return Result{}, err
	}
	res := Result{Planned: time.Since(start)}
	if run.Counts.Planned != r.n {
		return res, fmt.Errorf("run planned %d revocations, want %d (state %s %s)", run.Counts.Planned, r.n, run.State, run.Error)
	}
	select {
	case <-r.log.done:
	case <-time.After(timeout):
		return res, fmt.Errorf("after %s: %s", timeout, r.log.summary())
	}
	res.CPU = processCPU() - cpu0
	if err := r.log.err(); err != nil {
		return res, err
	}
	res.Done = r.log.times()
	res.N = len(res.Done)
	res.Elapsed = res.Done[len(res.Done)-1]
	revs, err := r.Store.ListRevocations(ctx, store.RevocationQuery{RunID: run.ID})
	if err != nil {
		return res, err
	}
	bad := 0
	for _, rv := range revs {
		if rv.State != store.Succeeded {
			bad++
		}
	}
	if bad > 0 || len(revs) != r.n {
		return res, fmt.Errorf("%d revocations stored, %d not succeeded; want %d succeeded", len(revs), bad, r.n)
	}
	return res, nil
}

// outcomes is the engine's log handler: it records when each revocation
// succeeded (the engine logs that after the store committed it), so that
// waiting for the run costs the store nothing, and keeps what went wrong.
type outcomes struct {
	mu       sync.Mutex
	start    time.Time
	want     int
	ok       []time.Duration
	failed   int
	retrying int
	problems []string
	done     chan struct{}
}

func (o *outcomes) reset(want int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.want, o.ok, o.failed, o.retrying, o.problems = want, make([]time.Duration, 0, want), 0, 0, nil
	o.done = make(chan struct{})
}

func (o *outcomes) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (o *outcomes) Handle(_ context.Context, r slog.Record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case r.Message == "revocation succeeded":
		o.ok = append(o.ok, time.Since(o.start))
	case r.Message == "revocation failed":
		o.failed++
	case r.Message == "revocation retrying":
		o.retrying++
	}
	if r.Level >= slog.LevelWarn && len(o.problems) < 5 {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		o.problems = append(o.problems, b.String())
	}
	if o.done != nil && len(o.ok)+o.failed == o.want {
		select {
		case <-o.done:
		default:
			close(o.done)
		}
	}
	return nil
}

func (o *outcomes) WithAttrs([]slog.Attr) slog.Handler { return o }
func (o *outcomes) WithGroup(string) slog.Handler      { return o }

func (o *outcomes) times() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := append([]time.Duration(nil), o.ok...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (o *outcomes) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failed == 0 {
		return nil
	}
	return errors.New(o.summaryLocked())
}

func (o *outcomes) summary() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.summaryLocked()
}

func (o *outcomes) summaryLocked() string {
	return fmt.Sprintf("%d of %d revocations succeeded, %d failed, %d retries; first problems: %s",
		len(o.ok), o.want, o.failed, o.retrying, strings.Join(o.problems, " | "))
}

// RevokeAll builds a rig on st (migrated, empty), revokes every id through
// deprov and returns the timing; it fails tb on any error.
func RevokeAll(tb testing.TB, st store.Store, o RigOptions, timeout time.Duration) Result {
	tb.Helper()
	ctx := context.Background()
	o.Store = st
	rig, err := NewRig(ctx, o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := rig.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	defer rig.Stop()
	res, err := rig.RunAll(ctx, timeout)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}
