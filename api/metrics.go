package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deprov/deprov/store"
)

// Metrics is deprov's Prometheus instrumentation, on a registry of its own.
// Its methods are safe for concurrent use and do nothing on a nil Metrics.
type Metrics struct {
	reg          *prometheus.Registry
	connDuration *prometheus.HistogramVec
	connErrors   *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	once         sync.Once
}

// NewMetrics returns the connector and HTTP metrics, unregistered from any
// global registry.
func NewMetrics() *Metrics {
	return &Metrics{
		reg: prometheus.NewRegistry(),
		connDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "deprov_connector_call_duration_seconds",
			Help:    "Duration of calls to target applications through their connectors, by application and action.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"application", "action"}),
		connErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deprov_connector_call_errors_total",
			Help: "Connector calls that failed, by application and action.",
		}, []string{"application", "action"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "deprov_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status class.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "deprov_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
}

// ObserveConnector records one connector call: how long it took, and
// whether it failed. action is list, disable, delete, revoke, enable, ...
func (m *Metrics) ObserveConnector(app, action string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.connDuration.WithLabelValues(app, action).Observe(d.Seconds())
	if err != nil {
		m.connErrors.WithLabelValues(app, action).Inc()
	}
}

func (m *Metrics) observeHTTP(method, route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(method, route, statusClass(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// register adds the store-backed gauges of a; a Metrics serves one API.
func (m *Metrics) register(a *API) {
	m.once.Do(func() {
		build := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "deprov_build_info", Help: "deprov's version.", ConstLabels: prometheus.Labels{"version": a.version},
		})
		build.Set(1)
		m.reg.MustRegister(m.connDuration, m.connErrors, m.httpRequests, m.httpDuration, build,
			collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			newStoreCollector(a))
	})
}

func (m *Metrics) handler() http.Handler {
	// A store that does not answer costs its gauges, not the whole scrape.
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// storeCollector computes gauges from the store at scrape time. Counting
// runs and revocations walks their tables in pages, so a result is kept for
// storeCacheTTL: scrapes more frequent than that cost nothing.
type storeCollector struct {
	a                 *API
	runs, revs, queue *prometheus.Desc
	mu                sync.Mutex
	at                time.Time
	cached            []prometheus.Metric
}

const storeCacheTTL = 15 * time.Second

func newStoreCollector(a *API) *storeCollector {
	return &storeCollector{
		a:     a,
		runs:  prometheus.NewDesc("deprov_runs", "Runs of each rule, by state.", []string{"rule", "state"}, nil),
		revs:  prometheus.NewDesc("deprov_revocations", "Revocations by state and application.", []string{"state", "application"}, nil),
		queue: prometheus.NewDesc("deprov_queue_depth", "Revocations scheduled or running: the work queue.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.runs
	ch <- c.revs
	ch <- c.queue
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == nil || time.Since(c.at) >= storeCacheTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ms, err := c.collect(ctx)
		cancel()
		if err != nil {
			c.a.log.Warn("metrics: read the store", "error", err)
			ch <- prometheus.NewInvalidMetric(c.queue, err)
			return
		}
		c.cached, c.at = ms, time.Now()
	}
	for _, m := range c.cached {
		ch <- m
	}
}

func (c *storeCollector) collect(ctx context.Context) ([]prometheus.Metric, error) {
	st := c.a.st
	runs, err := st.CountRuns(ctx)
	if err != nil {
		return nil, err
	}
	revs, err := st.CountRevocations(ctx)
	if err != nil {
		return nil, err
	}
	type key struct{ state, app string }
	byState := map[key]int{}
	queue := 0
	for _, n := range revs {
		byState[key{string(n.State), n.ApplicationID}] += n.N
		if n.State == store.Scheduled || n.State == store.Running {
			queue += n.N
		}
	}
	out := make([]prometheus.Metric, 0, len(runs)+len(byState)+1)
	for _, n := range runs {
		out = append(out, prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, float64(n.N), n.RuleID, string(n.State)))
	}
	for k, n := range byState {
		out = append(out, prometheus.MustNewConstMetric(c.revs, prometheus.GaugeValue, float64(n), k.state, k.app))
	}
	out = append(out, prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(queue)))
	return out, nil
}
