// Package engine runs deprovisioning: it applies configuration, syncs
// sources, aggregates applications, evaluates rules into plans, schedules
// revocations as durable jobs, executes them through connectors, and
// cancels them when an identity is reinstated. Every step writes audit
// events through the store.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/config"
	"github.com/deprov/deprov/connector"
	"github.com/deprov/deprov/identity"
	"github.com/deprov/deprov/rule"
	"github.com/deprov/deprov/schedule"
	"github.com/deprov/deprov/store"
)

// Options configures an Engine.
type Options struct {
	// Store is the database. Required.
	Store store.Store
	// Now is the clock; default time.Now. Everything that decides by time
	// (end dates, grace periods, due times) reads it.
	Now func() time.Time
	// Logger receives operational logs; default slog.Default().
	Logger *slog.Logger
	// HTTPClient is used for URL hooks; default a client with no timeout of
	// its own (each hook call has its rule's timeout).
	HTTPClient *http.Client
	// PollInterval is how often a serving engine looks for new jobs and for
	// configuration changes made by other processes; default 100 ms for jobs
	// and 2 s for configuration.
	PollInterval time.Duration
	// Observer, when set, is told of every connector call (metrics).
	Observer Observer
	// AttemptTimeout bounds one attempt of a revocation (default 2 min).
	AttemptTimeout time.Duration
	// RescueAfter is how long a revocation job may stay running before
	// another worker takes it over, as after a crash of the node that ran
	// it (default 5 min; at least AttemptTimeout + 10 s, the time River
	// gives a job before it gives up on it). Taking over a job
	// that is in fact still running is safe: the revocation's state
	// changes are compare-and-set and connectors are idempotent.
	RescueAfter time.Duration
	// Node names this process in the audit: what its workers do is
	// recorded as done by "worker:<Node>", so that an auditor can tell
	// which node of a cluster acted. Default: the host name and the
	// process id, as host:pid.
	Node string
}

// jobTimeoutSlack is how much longer than an attempt River lets a job run
// (its JobTimeout) before it gives up on it.
const jobTimeoutSlack = 10 * time.Second

// Observer is told the duration and outcome of each connector call.
type Observer interface {
	ObserveConnector(app, action string, d time.Duration, err error)
}

// Engine is deprov's core. It is safe for concurrent use.
type Engine struct {
	st   store.Store
	now  func() time.Time
	log  *slog.Logger
	http *http.Client
	poll time.Duration
	obs  Observer
	// attemptTimeout and rescueAfter: see Options.
	attemptTimeout, rescueAfter time.Duration

	mu       sync.Mutex
	conns    map[string]openConnector // by application id, checked against the config version connVer
	connVer  int64
	limiters map[string]*rate.Limiter // by application id, kept across configuration versions

	// workerActor is the audit actor of what the workers do.
	workerActor string

	// stubbedClock says Options.Now was given: River's own scheduling then
	// follows the same clock, so a test moves grace periods by moving it.
	stubbedClock bool

	cache configCache

	// pushLocks serialises the immediate runs of one rule, so that the
	// trailing-hour count of pushed terminations sees each one.
	pushLocks keyedMutex

	enqueueMu sync.Mutex

	jobsMu sync.Mutex
	jobs   store.JobClient // nil until jobs are needed
	worker *workerState    // non-nil while serving
}

// New returns an engine.
func New(o Options) (*Engine, error) {
	if o.Store == nil {
		return nil, errors.New("engine: a store is required")
	}
	if attempt := cmp.Or(o.AttemptTimeout, 2*time.Minute); o.RescueAfter != 0 && o.RescueAfter < attempt+jobTimeoutSlack {
		// River refuses to start with a rescue shorter than its job timeout.
		return nil, fmt.Errorf("engine: RescueAfter (%s) must be at least AttemptTimeout (%s) + %s", o.RescueAfter, attempt, jobTimeoutSlack)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	node := o.Node
	if node == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "localhost"
		}
		node = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	return &Engine{
		workerActor:    "worker:" + node,
		stubbedClock:   o.Now != nil,
		st:             o.Store,
		now:            now,
		log:            cmp.Or(o.Logger, slog.Default()),
		http:           cmp.Or(o.HTTPClient, http.DefaultClient),
		poll:           cmp.Or(o.PollInterval, 100*time.Millisecond),
		attemptTimeout: cmp.Or(o.AttemptTimeout, 2*time.Minute),
		rescueAfter:    cmp.Or(o.RescueAfter, 5*time.Minute),
		conns:          map[string]openConnector{},
		limiters:       map[string]*rate.Limiter{},
	}, nil
}

// Store returns the engine's store.
func (e *Engine) Store() store.Store { return e.st }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.now().UTC() }

// event builds an audit event at the engine's clock.
func (e *Engine) event(actor, action, msg string) audit.Event {
	return audit.Event{Time: e.Now(), Actor: actor, Action: action, Message: msg}
}

// ErrInvalid marks errors caused by bad input (exit code 2 in the CLI).
var ErrInvalid = errors.New("invalid input")

// invalidf returns an error that wraps ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// compileRule prepares a configured rule for evaluation; a URL hook is
// called with ctx.
func (e *Engine) compileRule(ctx context.Context, cfg config.Config, r config.Rule) (*rule.Compiled, error) {
	spec := rule.Spec{
		ID:              r.ID,
		Statuses:        r.Trigger.Statuses,
		Scope:           r.Scope,
		GracePeriodDays: r.GracePeriodDays,
		Exclusions:      map[string]rule.Exclusion{},
		Actions:         map[string]account.Action{},
	}
	if r.Trigger.EndDate != nil {
		off := r.Trigger.EndDate.OffsetDays
		spec.EndDateOffsetDays = &off
	}
	if h := r.Trigger.Hook; h != nil {
		spec.HookCEL = h.CEL
		if h.URL != "" {
			spec.HookFunc = e.urlHook(ctx, r.ID, *h)
		}
	}
	if r.Schedule != nil {
		loc, err := schedule.LoadTimezone(r.Schedule.Timezone)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		spec.Location = loc
	}
	for _, x := range r.ExcludeApplications {
		ex := rule.Exclusion{Reason: x.Reason}
		if x.Until != "" {
			d, err := identity.ParseEndDate(x.Until)
			if err != nil {
				return nil, fmt.Errorf("rule %s: exclusion of %s: until: %w", r.ID, x.Application, err)
			}
			ex.Until = d.In(cmpLoc(spec.Location))
		}
		spec.Exclusions[x.Application] = ex
	}
	for _, a := range cfg.Applications {
		spec.Actions[a.ID] = account.Action(r.Action.For(a))
	}
	c, err := rule.Compile(spec)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	return c, nil
}

func cmpLoc(l *time.Location) *time.Location {
	if l == nil {
		return time.UTC
	}
	return l
}

// connector returns the open connector of an application, opening it on
// first use and again after a configuration change.
func (e *Engine) connector(ctx context.Context, appID string) (connector.Connector, config.Application, error) {
	cfg, ver, err := e.config(ctx)
	if err != nil {
		return nil, config.Application{}, err
	}
	app, ok := cfg.Application(appID)
	if !ok {
		return nil, config.Application{}, fmt.Errorf("application %q: %w", appID, store.ErrNotFound)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ver != e.connVer {
		// Reopen only the connectors whose settings changed: a change of a
		// rule leaves the others, and the attempts using them, alone.
		for id, oc := range e.conns {
			if now, ok := cfg.Application(id); !ok || !reflect.DeepEqual(now.Connector, oc.settings) {
				e.closeConnectorLocked(id)
			}
		}
		e.connVer = ver
	}
	// One limiter per application for the life of the engine, so that
	// requests before and after a configuration change share one pace.
	limit := rate.Inf
	if app.RateLimit > 0 {
		limit = rate.Limit(app.RateLimit)
	}
	if lim, ok := e.limiters[appID]; !ok {
		// A burst of one keeps every one-second window at or under the limit
		// (plus the single token a full bucket holds at the window's start).
		e.limiters[appID] = rate.NewLimiter(limit, 1)
	} else if lim.Limit() != limit {
		lim.SetLimit(limit)
	}
	if oc, ok := e.conns[appID]; ok {
		return oc.c, app, nil
	}
	f, ok := connector.Lookup(app.Connector.Type)
	if !ok {
		return nil, app, fmt.Errorf("application %s: unknown connector type %q", appID, app.Connector.Type)
	}
	settings, err := config.ExpandSettings(app.Connector.Settings)
	if err != nil {
		return nil, app, fmt.Errorf("application %s: %w", appID, err)
	}
	c, err := f.Open(settings)
	if err != nil {
		return nil, app, fmt.Errorf("application %s: open %s connector: %w", appID, app.Connector.Type, err)
	}
	e.conns[appID] = openConnector{c: c, settings: app.Connector}
	return c, app, nil
}

// openConnector is an open connector and the settings it was opened with.
type openConnector struct {
	c        connector.Connector
	settings config.Connector
}

// limiter returns the application's shared rate limiter (set by connector).
func (e *Engine) limiter(appID string) *rate.Limiter {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l := e.limiters[appID]; l != nil {
		return l
	}
	return rate.NewLimiter(rate.Inf, 1)
}

func (e *Engine) closeConnectorLocked(id string) {
	if cl, ok := e.conns[id].c.(connector.Closer); ok {
		if err := cl.Close(); err != nil {
			e.log.Warn("close connector", "application", id, "error", err)
		}
	}
	delete(e.conns, id)
}

func (e *Engine) closeConnectorsLocked() {
	for id := range e.conns {
		e.closeConnectorLocked(id)
	}
}

// Close releases connectors. It does not close the store.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closeConnectorsLocked()
}

// jobClock hands the engine's clock to River when it is stubbed.
type jobClock struct{ now func() time.Time }

func (c jobClock) Now() time.Time { return c.now() }

func (c jobClock) NowOrNil() *time.Time {
	t := c.now().UTC()
	return &t
}

// riverLog is the engine's logger for River, which reports routine work
// at info level: only its warnings and errors are worth an operator's eye.
func (e *Engine) riverLog() *slog.Logger {
	return slog.New(minLevel{h: e.log.Handler(), min: slog.LevelWarn})
}

type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(a), min: m.min}
}
func (m minLevel) WithGroup(n string) slog.Handler { return minLevel{h: m.h.WithGroup(n), min: m.min} }

// observe reports a connector call to the observer, if any.
func (e *Engine) observe(app, action string, start time.Time, err error) {
	if e.obs != nil {
		e.obs.ObserveConnector(app, action, time.Since(start), err)
	}
}
