// Package api is deprov's HTTP API: the JSON resources under /api/v1
// (described by an OpenAPI 3.1 document generated from the code and served
// at /openapi.json), bearer-token and session authentication with the admin,
// operator and auditor roles, Prometheus metrics at /metrics, and the
// /healthz and /readyz probes. The web console is built on its exported
// authentication blocks: Authenticate, Login, Logout, CSRFToken, CheckCSRF
// and RequireRole.
package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

// Defaults.
const (
	// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultSessionTTL is how long a console session lasts.
	DefaultSessionTTL = 8 * time.Hour
	// BootstrapTokenEnv names the environment variable `deprov serve` reads
	// the first admin token from.
	BootstrapTokenEnv = "DEPROV_ADMIN_TOKEN"
)

// Options configures an API.
type Options struct {
	// Engine does the work; its store keeps tokens and the session key. Required.
	Engine *engine.Engine
	// Logger receives request logs and the first admin token; default slog.Default().
	Logger *slog.Logger
	// Version is deprov's version, shown in the OpenAPI document and metrics.
	Version string
	// BootstrapToken (env DEPROV_ADMIN_TOKEN) becomes an admin token when the
	// store has no active admin token. Without it, a first start (no tokens
	// at all) generates one and logs it once.
	BootstrapToken string
	// Secure marks the session cookie Secure; set it when serving TLS.
	Secure bool
	// MaxBodyBytes bounds request bodies (413 beyond); default 1 MiB.
	MaxBodyBytes int64
	// SessionTTL is how long a console session lasts; default 8 h.
	SessionTTL time.Duration
	// Now is the clock for sessions and token use; default time.Now.
	Now func() time.Time
	// Metrics collects connector metrics; default a new one. Pass the same
	// value to whatever reports connector calls.
	Metrics *Metrics
}

// API serves deprov over HTTP. It is safe for concurrent use.
type API struct {
	e          *engine.Engine
	st         store.Store
	log        *slog.Logger
	now        func() time.Time
	version    string
	secure     bool
	maxBody    int64
	sessionTTL time.Duration
	sessionKey []byte

	huma    huma.API
	mux     *http.ServeMux
	spec    []byte
	metrics *Metrics
	plain   []plainRoute

	// configMu serialises this node's read-modify-write of the configuration.
	configMu sync.Mutex

	touchMu sync.Mutex
	touched map[int64]time.Time
}

// plainRoute is a route served outside huma, with the role it needs
// ("" for none).
type plainRoute struct {
	Method, Path string
	Role         store.Role
}

// New builds the API: it loads (or creates) the shared session key, makes
// sure an admin token exists, and registers every route.
func New(o Options) (*API, error) {
	if o.Engine == nil {
		return nil, errors.New("api: an engine is required")
	}
	a := &API{
		e:          o.Engine,
		st:         o.Engine.Store(),
		log:        cmp.Or(o.Logger, slog.Default()),
		now:        o.Now,
		version:    cmp.Or(o.Version, "dev"),
		secure:     o.Secure,
		maxBody:    cmp.Or(o.MaxBodyBytes, DefaultMaxBodyBytes),
		sessionTTL: cmp.Or(o.SessionTTL, DefaultSessionTTL),
		metrics:    o.Metrics,
		touched:    map[int64]time.Time{},
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.metrics == nil {
		a.metrics = NewMetrics()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.loadSessionKey(ctx); err != nil {
		return nil, err
	}
	if err := a.bootstrap(ctx, o.BootstrapToken); err != nil {
		return nil, err
	}
	a.mux = http.NewServeMux()
	a.huma = humago.New(a.mux, a.humaConfig())
	a.huma.UseMiddleware(a.authorize)
	a.registerConfigRoutes()
	a.registerDataRoutes()
	a.registerActionRoutes()
	a.registerTokenRoutes()
	spec, err := json.Marshal(a.huma.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("api: openapi document: %w", err)
	}
	a.spec = spec
	a.metrics.register(a)
	a.registerPlainRoutes()
	return a, nil
}

// humaConfig is huma's default configuration without the parts deprov
// serves itself or not at all: the OpenAPI route (served behind auth), the
// docs page (it loads scripts from a CDN) and the $schema links.
func (a *API) humaConfig() huma.Config {
	cfg := huma.DefaultConfig("deprov", a.version)
	cfg.OpenAPIPath, cfg.DocsPath, cfg.SchemasPath = "", "", ""
	cfg.CreateHooks = nil
	// Request bodies are validated the way `deprov apply` validates a file
	// (config.Validate, every problem at once); huma only checks types, so a
	// field is never "required" by the schema alone.
	cfg.FieldsOptionalByDefault = true
	cfg.Info.Description = "deprov's HTTP API. Authenticate with `Authorization: Bearer dpv_…` " +
		"(tokens from `deprov tokens create`) or the console's session cookie. Roles: admin (everything), " +
		"operator (run rules, approve, cancel, retry, undo, sync, aggregate), auditor (read only); " +
		"each operation names the least role it needs in x-deprov-role."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer":  {Type: "http", Scheme: "bearer", Description: "an API token, dpv_…"},
		"session": {Type: "apiKey", In: "cookie", Name: sessionCookie, Description: "the console's session; state-changing requests also need the X-CSRF-Token header"},
	}
	cfg.Transformers = []huma.Transformer{a.scrubErrors}
	registerSchemaAliases(cfg.Components.Schemas)
	return cfg
}

func (a *API) registerPlainRoutes() {
	a.plain = []plainRoute{
		{http.MethodGet, "/openapi.json", store.RoleAuditor},
		{http.MethodGet, "/metrics", store.RoleAuditor},
		{http.MethodGet, "/healthz", ""},
		{http.MethodGet, "/readyz", ""},
	}
	a.mux.Handle("GET /openapi.json", a.RequireRole(store.RoleAuditor, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/openapi+json")
		_, _ = w.Write(a.spec)
	})))
	a.mux.Handle("GET /metrics", a.RequireRole(store.RoleAuditor, a.metrics.handler()))
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	a.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := a.st.ConfigVersion(ctx); err != nil {
			a.log.Warn("not ready: the database does not answer", "request_id", RequestID(r.Context()), "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database unavailable")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	// Anything else under /api/ is a problem+json 404, not the mux's text.
	a.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
}

// Handler serves /api/v1/..., /openapi.json, /metrics, /healthz and
// /readyz, wrapped in Middleware.
func (a *API) Handler() http.Handler { return a.Middleware(a.mux) }

// Metrics returns the API's metrics, for the engine to report connector calls.
func (a *API) Metrics() *Metrics { return a.metrics }

// OpenAPI returns the OpenAPI document served at /openapi.json.
func (a *API) OpenAPI() []byte { return a.spec }
