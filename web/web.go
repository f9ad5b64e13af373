// Package web is deprov's console: server-rendered HTML pages, embedded in
// the binary, for the people who run deprovisioning — rules with their
// scheduler, dry runs, run history and quarantine, revocations along their
// grace periods, applications, identities, held syncs and the audit log.
//
// The console is a thin layer over package api. It signs people in with an
// API token (api.Login starts the session), reads through the engine's store,
// and makes every change through the API's own routes, called in-process with
// the browser's session: a change from the console is validated, authorised
// and audited exactly as the same change sent to /api/v1 by a script. Every
// form carries the session's CSRF token, and the pages render only the
// controls the signed-in role may use.
package web

import (
	"bufio"
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/deprov/deprov/api"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed zones.txt
var zonesTxt string

// Options configures a Console.
type Options struct {
	// API authenticates people and carries out every change. Required.
	API *api.API
	// Engine is read for the configuration, runs, revocations and audit,
	// and its clock is the console's "now". Required.
	Engine *engine.Engine
	// Logger receives the console's own warnings; default slog.Default().
	Logger *slog.Logger
}

// Console serves the web console. It is safe for concurrent use.
type Console struct {
	api   *api.API
	e     *engine.Engine
	st    store.Store
	log   *slog.Logger
	pages map[string]*template.Template
	zones []string
	h     http.Handler
}

// New builds the console: it parses the embedded templates and registers
// its routes.
func New(o Options) (*Console, error) {
	if o.API == nil || o.Engine == nil {
		return nil, errors.New("web: an API and an engine are required")
	}
	c := &Console{
		api: o.API,
		e:   o.Engine,
		st:  o.Engine.Store(),
		log: cmp.Or(o.Logger, slog.Default()),
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.zones = zoneNames()
	c.h = c.routes()
	return c, nil
}

// Handler serves the console at "/" (the login page, then the pages) and
// its stylesheet and script under "/static/". It wraps itself in the API's
// middleware (request ids, body limit, request log).
func (c *Console) Handler() http.Handler { return c.h }

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The files change only with the binary; an hour is a fair cache.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/rules", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.logout)

	viewer, operator, admin := store.RoleAuditor, store.RoleOperator, store.RoleAdmin
	mux.Handle("GET /rules", c.page(viewer, c.rulesPage))
	mux.Handle("GET /rules/_new", c.page(admin, c.newRulePage))
	mux.Handle("POST /rules/_new", c.action(admin, c.createRule))
	mux.Handle("GET /rules/{id}", c.page(viewer, c.rulePage))
	mux.Handle("POST /rules/{id}", c.action(admin, c.saveRule))
	mux.Handle("POST /rules/{id}/activate", c.action(admin, c.setActive(true)))
	mux.Handle("POST /rules/{id}/deactivate", c.action(admin, c.setActive(false)))
	mux.Handle("POST /rules/{id}/delete", c.action(admin, c.deleteRule))
	mux.Handle("POST /rules/{id}/dry-run", c.action(operator, c.dryRun))
	mux.Handle("POST /rules/{id}/run", c.action(operator, c.runRule))

	mux.Handle("GET /runs", c.page(viewer, c.runsPage))
	mux.Handle("GET /runs/{id}", c.page(viewer, c.runPage))
	for _, verb := range []string{"approve", "reject", "undo"} {
		mux.Handle("POST /runs/{id}/"+verb, c.action(operator, c.runAction(verb)))
	}

	mux.Handle("GET /revocations", c.page(viewer, c.revocationsPage))
	for _, verb := range []string{"cancel", "retry", "complete", "reject"} {
		mux.Handle("POST /revocations/{id}/"+verb, c.action(operator, c.revocationAction(verb)))
	}

	mux.Handle("GET /applications", c.page(viewer, c.applicationsPage))
	mux.Handle("GET /applications/{id}", c.page(viewer, c.applicationPage))
	mux.Handle("POST /applications/{id}/aggregate", c.action(operator, c.aggregate))
	mux.Handle("GET /identities", c.page(viewer, c.identitiesPage))
	mux.Handle("GET /identities/{source}/{ext...}", c.page(viewer, c.identityPage))
	mux.Handle("GET /sources", c.page(viewer, c.sourcesPage))
	mux.Handle("POST /sources/{id}/sync", c.action(operator, c.syncSource))
	for _, verb := range []string{"approve", "reject"} {
		mux.Handle("POST /held-syncs/{id}/"+verb, c.action(operator, c.heldSyncAction(verb)))
	}
	mux.Handle("GET /audit", c.page(viewer, c.auditPage))
	mux.Handle("/", c.page(viewer, func(w http.ResponseWriter, r *http.Request, v *view) {
		c.notFound(w, r, v, "There is no page at "+r.URL.Path+".")
	}))

	// Browsers say where a request comes from: a cross-site form post (a
	// forged login, say, which no session CSRF token can cover) is refused
	// before any handler runs.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.refused(w, r, "The request came from another site.")
	}))
	return c.api.Middleware(securityHeaders(cop.Handler(mux)))
}

// securityHeaders keeps the console's pages to their own origin: scripts,
// styles and images from /static only, no framing, no caching of pages that
// show one person's view.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// view is what every page template gets: who is signed in, what they may
// do, the session's CSRF token, a one-time message, and the page's data.
type view struct {
	Title     string
	Nav       string
	Principal api.Principal
	CSRF      string
	Flash     *flash
	Now       time.Time
	// Path is the page's own path and query, for forms that come back here.
	Path string
	Data any
}

// CanOperate says the signed-in role may run, approve, cancel, retry and undo.
func (v *view) CanOperate() bool { return v.Principal.Allows(store.RoleOperator) }

// CanAdmin says the signed-in role may change the configuration.
func (v *view) CanAdmin() bool { return v.Principal.Allows(store.RoleAdmin) }

// page serves a read-only page to a principal of role min or above; a
// request without a session is sent to the login page.
func (c *Console) page(min store.Role, h func(http.ResponseWriter, *http.Request, *view)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := c.api.Authenticate(r)
		if !ok {
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		v := c.newView(w, r, p)
		if !p.Allows(min) {
			c.forbidden(w, r, v, min)
			return
		}
		h(w, r, v)
	})
}

// action serves a state-changing form post: it needs a session (or bearer
// token) of role min or above and, for a session, the form's CSRF token.
func (c *Console) action(min store.Role, h func(http.ResponseWriter, *http.Request, *view)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := c.api.Authenticate(r)
		if !ok {
			v := &view{Title: "Signed out", Now: c.e.Now()}
			c.render(w, http.StatusUnauthorized, "message", v, message{
				Heading: "Your session has ended",
				Text:    "Nothing was changed. Sign in again and repeat what you were doing.",
				Link:    "/login", LinkText: "Sign in",
			})
			return
		}
		if err := c.api.CheckCSRF(r); err != nil {
			c.log.Warn("console: form refused without a valid CSRF token", "request_id", api.RequestID(r.Context()),
				"path", r.URL.Path, "actor", p.Actor())
			c.refused(w, r, "The form did not carry this session's security token.")
			return
		}
		v := c.newView(w, r, p)
		if !p.Allows(min) {
			c.forbidden(w, r, v, min)
			return
		}
		h(w, r, v)
	})
}

func (c *Console) newView(w http.ResponseWriter, r *http.Request, p api.Principal) *view {
	return &view{Principal: p, CSRF: c.api.CSRFToken(r), Flash: takeFlash(w, r), Now: c.e.Now(), Path: r.URL.RequestURI()}
}

// message is the data of the message page (errors, refusals).
type message struct {
	Heading, Text  string
	Link, LinkText string
}

func (c *Console) refused(w http.ResponseWriter, r *http.Request, why string) {
	v := &view{Title: "Refused", Now: c.e.Now()}
	if p, ok := c.api.Authenticate(r); ok {
		v.Principal, v.CSRF = p, c.api.CSRFToken(r)
	}
	c.render(w, http.StatusForbidden, "message", v, message{
		Heading: "Request refused",
		Text:    why + " Nothing was changed. Reload the page and try again.",
		Link:    "/", LinkText: "Back to the console",
	})
}

func (c *Console) forbidden(w http.ResponseWriter, _ *http.Request, v *view, min store.Role) {
	v.Title = "Not allowed"
	c.render(w, http.StatusForbidden, "message", v, message{
		Heading: "Not allowed",
		Text:    fmt.Sprintf("Your token %q has the %s role; this needs %s.", v.Principal.Name, v.Principal.Role, min),
		Link:    "/", LinkText: "Back to the console",
	})
}

func (c *Console) notFound(w http.ResponseWriter, _ *http.Request, v *view, text string) {
	v.Title = "Not found"
	c.render(w, http.StatusNotFound, "message", v, message{Heading: "Not found", Text: text, Link: "/", LinkText: "Back to the console"})
}

// failed shows an error that stops a page from rendering.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, v *view, err error) {
	c.log.Error("console: page failed", "request_id", api.RequestID(r.Context()), "path", r.URL.Path, "error", err)
	v.Title = "Error"
	c.render(w, http.StatusInternalServerError, "message", v, message{
		Heading: "Something went wrong",
		Text:    "The page could not be shown (request " + api.RequestID(r.Context()) + "). The server log has the details.",
		Link:    "/", LinkText: "Back to the console",
	})
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, status int, page string, v *view, data any) {
	v.Data = data
	t, ok := c.pages[page]
	if !ok {
		panic("web: no page template " + page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("console: template failed", "page", page, "error", err)
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// parsePages parses each page template together with the layout and the
// shared partials.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// zoneNames lists the IANA zones the scheduler's timezone field offers:
// UTC first, then the zones of the tz database's zone tables.
func zoneNames() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(zonesTxt))
	for sc.Scan() {
		if z := strings.TrimSpace(sc.Text()); z != "" && z != "UTC" {
			out = append(out, z)
		}
	}
	slices.Sort(out)
	return append([]string{"UTC"}, out...)
}
