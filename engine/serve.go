package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/schedule"
	"github.com/deprov/deprov/store"
)

// workerState is what a serving engine keeps of its queues and schedules.
type workerState struct {
	mu        sync.Mutex
	queues    map[string]int    // queue name → MaxWorkers
	schedules map[string]string // periodic job id → "cron|timezone"
	version   int64
	stop      context.CancelFunc
	done      chan struct{}
}

// Start runs the scheduler and the revocation workers until Stop: a queue
// per rule whose MaxWorkers is its process allocation size, a periodic job
// per active rule schedule and per source schedule, and a watcher that
// applies configuration changes made by other processes without a restart.
func (e *Engine) Start(ctx context.Context) error {
	cfg, ver, err := e.st.Config(ctx)
	if err != nil {
		return err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &revocationWorker{e: e})
	river.AddWorker(workers, &ruleRunWorker{e: e})
	river.AddWorker(workers, &sourceSyncWorker{e: e})
	ws := &workerState{queues: map[string]int{}, schedules: map[string]string{}, version: ver}
	queues := map[string]river.QueueConfig{controlQueue: {MaxWorkers: 2}}
	for _, r := range cfg.Rules {
		queues[queueFor(r.ID)] = river.QueueConfig{MaxWorkers: r.AllocationSize()}
		ws.queues[queueFor(r.ID)] = r.AllocationSize()
	}
	// A removed rule's revocations that were queued before it was removed
	// wait in its queue: keep the queue, so that they are worked (and
	// cancelled, or restored when they undo) rather than stranded.
	counts, err := e.st.CountRevocations(ctx, store.Active...)
	if err != nil {
		return err
	}
	for _, n := range counts {
		if _, ok := queues[queueFor(n.RuleID)]; !ok {
			queues[queueFor(n.RuleID)] = river.QueueConfig{MaxWorkers: config.DefaultAllocationSize}
			ws.queues[queueFor(n.RuleID)] = config.DefaultAllocationSize
			e.log.Info("queue kept for the revocations of a removed rule", "rule", n.RuleID)
		}
	}
	rc := &river.Config{
		Queues:  queues,
		Workers: workers,
		Logger:  e.riverLog(),
		// SQLite has no LISTEN/NOTIFY: jobs are found by polling, so poll
		// often and let a busy queue fetch again almost at once.
		FetchPollInterval:    e.poll,
		FetchCooldown:        time.Millisecond,
		RetryPolicy:          retryPolicy{},
		JobTimeout:           e.attemptTimeout + jobTimeoutSlack,
		RescueStuckJobsAfter: e.rescueAfter,
	}
	if e.stubbedClock {
		rc.Test.Time = jobClock{e.now}
	}
	client, err := e.st.NewJobClient(rc)
	if err != nil {
		return fmt.Errorf("job client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	e.jobsMu.Lock()
	e.jobs, e.worker = client, ws
	e.jobsMu.Unlock()
	e.syncSchedules(cfg)
	if err := e.Enqueue(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ws.stop, ws.done = cancel, make(chan struct{})
	go e.watchConfig(wctx, ws.done)
	e.log.Info("workers started", "rules", len(cfg.Rules), "sources", len(cfg.Sources))
	return nil
}

// Stop stops the workers, letting running revocations finish.
func (e *Engine) Stop(ctx context.Context) error {
	e.jobsMu.Lock()
	client, ws := e.jobs, e.worker
	e.jobs, e.worker = nil, nil
	e.jobsMu.Unlock()
	if ws != nil {
		ws.stop()
		<-ws.done
	}
	if client == nil {
		return nil
	}
	return client.Stop(ctx)
}

// watchConfig polls the configuration version so that an apply from
// another process (the CLI, another node) takes effect without a restart,
// and makes sure every scheduled revocation has a job.
func (e *Engine) watchConfig(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.configChanged(ctx)
			// Queue what a crash, a retry racing its old job, or another
			// process left without a job.
			if err := e.Enqueue(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("queue revocations", "error", err)
			}
			// Carry out what a sync that failed half-way left undone.
			if err := e.settlePending(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("evaluate identities left pending", "error", err)
			}
		}
	}
}

// configChanged brings queues and schedules in line with the stored
// configuration, if this engine is serving and the version moved.
func (e *Engine) configChanged(ctx context.Context) {
	e.jobsMu.Lock()
	client, ws := e.jobs, e.worker
	e.jobsMu.Unlock()
	if ws == nil {
		return
	}
	ver, err := e.st.ConfigVersion(ctx)
	if err != nil {
		e.log.Error("read configuration version", "error", err)
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ver == ws.version {
		return
	}
	cfg, ver, err := e.st.Config(ctx)
	if err != nil {
		e.log.Error("read configuration", "error", err)
		return
	}
	ws.version = ver
	for _, r := range cfg.Rules {
		name, size := queueFor(r.ID), r.AllocationSize()
		cur, ok := ws.queues[name]
		if ok && cur == size {
			continue
		}
		if ok {
			// River cannot resize a queue: remove it (running jobs finish)
			// and add it again with the new size.
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := client.Queues().Remove(rctx, name)
			cancel()
			if err != nil {
				e.log.Error("resize queue", "rule", r.ID, "error", err)
				continue
			}
		}
		if err := client.Queues().Add(name, river.QueueConfig{MaxWorkers: size}); err != nil {
			e.log.Error("add queue", "rule", r.ID, "error", err)
			continue
		}
		ws.queues[name] = size
		e.log.Info("rule queue ready", "rule", r.ID, "processAllocationSize", size)
	}
	e.syncSchedulesLocked(client, ws, cfg)
	if err := e.Enqueue(ctx); err != nil {
		e.log.Error("queue revocations", "error", err)
	}
}

func (e *Engine) syncSchedules(cfg config.Config) {
	e.jobsMu.Lock()
	client, ws := e.jobs, e.worker
	e.jobsMu.Unlock()
	if ws == nil {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e.syncSchedulesLocked(client, ws, cfg)
}

// syncSchedulesLocked adds, replaces and removes periodic jobs so that
// exactly the active rule schedules and the source schedules exist.
func (e *Engine) syncSchedulesLocked(client interface {
	PeriodicJobs() *river.PeriodicJobBundle
}, ws *workerState, cfg config.Config) {
	want := map[string]periodic{}
	for _, r := range cfg.Rules {
		if r.Schedule != nil && r.Schedule.Active {
			want["rule-"+r.ID] = periodic{sched: *r.Schedule, args: func(fire time.Time) river.JobArgs {
				return RuleRunArgs{RuleID: r.ID, FireAt: fire}
			}}
		}
	}
	for _, s := range cfg.Sources {
		if s.Schedule != nil {
			want["source-"+s.ID] = periodic{sched: *s.Schedule, args: func(fire time.Time) river.JobArgs {
				return SourceSyncArgs{SourceID: s.ID, FireAt: fire}
			}}
		}
	}
	for id, sig := range ws.schedules {
		if w, ok := want[id]; !ok || w.signature() != sig {
			client.PeriodicJobs().RemoveByID(id)
			delete(ws.schedules, id)
			e.log.Info("schedule removed", "id", id)
		}
	}
	for id, p := range want {
		if _, ok := ws.schedules[id]; ok {
			continue
		}
		loc, err := schedule.LoadTimezone(p.sched.Timezone)
		if err != nil {
			e.log.Error("schedule", "id", id, "error", err)
			continue
		}
		s, err := schedule.Parse(p.sched.Cron, loc)
		if err != nil {
			e.log.Error("schedule", "id", id, "error", err)
			continue
		}
		args, fs := p.args, &firingSchedule{s: s}
		_, err = client.PeriodicJobs().AddSafely(river.NewPeriodicJob(fs, func() (river.JobArgs, *river.InsertOpts) {
			fire := fs.pending()
			return args(fire), &river.InsertOpts{Queue: controlQueue, MaxAttempts: 3, ScheduledAt: fire,
				UniqueOpts: river.UniqueOpts{ByArgs: true}}
		}, &river.PeriodicJobOpts{ID: id}))
		if err != nil {
			e.log.Error("schedule", "id", id, "error", err)
			continue
		}
		ws.schedules[id] = p.signature()
		e.log.Info("schedule set", "id", id, "cron", p.sched.Cron, "timezone", cmpOr(p.sched.Timezone, "UTC"), "next", s.Next(e.Now()))
	}
}

type periodic struct {
	sched config.Schedule
	args  func(fire time.Time) river.JobArgs
}

func (p periodic) signature() string { return p.sched.Cron + "|" + p.sched.Timezone }

// firingSchedule is a schedule as River's periodic enqueuer uses it. The
// enqueuer asks for the next fire time, waits for it, calls the job's
// constructor and only then asks for the one after, so the fire time last
// handed out is the one the constructor builds a job for: pending tells it.
// A schedule with no further fire time (a Quartz year in the past) answers
// a century on, which keeps the enqueuer from spinning.
type firingSchedule struct {
	s    *schedule.Schedule
	mu   sync.Mutex
	next time.Time
}

func (f *firingSchedule) Next(t time.Time) time.Time {
	next := f.s.Next(t)
	if next.IsZero() {
		next = t.AddDate(100, 0, 0)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = next
	return next
}

func (f *firingSchedule) pending() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next
}

// Wait blocks until every revocation of the run that is due by now (or is
// being retried) has left the scheduled and running states, or ctx ends.
func (e *Engine) Wait(ctx context.Context, runID int64) error {
	return e.WaitProgress(ctx, runID, nil)
}

// WaitProgress is Wait, telling progress after each look: how many of the
// run's revocations are finished, of how many.
func (e *Engine) WaitProgress(ctx context.Context, runID int64, progress func(done, total int)) error {
	t := time.NewTicker(e.poll)
	defer t.Stop()
	for {
		revs, err := e.st.ListRevocations(ctx, storeQueryActive(runID))
		if err != nil {
			return err
		}
		pending := 0
		now := e.Now()
		if progress != nil {
			all, err := e.st.ListRevocations(ctx, store.RevocationQuery{RunID: runID})
			if err != nil {
				return err
			}
			progress(len(all)-len(revs), len(all))
		}
		for _, r := range revs {
			if !r.DueAt.After(now) || r.Attempts > 0 || r.LastError != "" {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("%d revocation(s) of run %d still pending", pending, runID))
		case <-t.C:
		}
	}
}

// Schedules lists the schedules this serving engine has set, by id
// ("rule-<id>", "source-<id>"), with their next fire time.
func (e *Engine) Schedules() map[string]time.Time {
	e.jobsMu.Lock()
	ws := e.worker
	e.jobsMu.Unlock()
	out := map[string]time.Time{}
	if ws == nil {
		return out
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for id, sig := range ws.schedules {
		cron, tz, _ := strings.Cut(sig, "|")
		loc, err := schedule.LoadTimezone(tz)
		if err != nil {
			continue
		}
		if s, err := schedule.Parse(cron, loc); err == nil {
			out[id] = s.Next(e.Now())
		}
	}
	return out
}

// Reload applies a configuration change now instead of at the next poll.
func (e *Engine) Reload(ctx context.Context) { e.configChanged(ctx) }
