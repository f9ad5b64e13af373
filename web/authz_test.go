package web

import (
	"encoding/base64"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deprov/deprov/store"
)

// public marks a console route that serves everyone, signed in or not.
const public store.Role = "public"

// consoleRoute is one route of the console matrix: the least role it
// serves, and the request the matrix sends to it. State-changing posts go to
// seeded objects whose change is harmless, or to ids that exist nowhere
// (999999, no-such-rule), so that an allowed role gets past authorization
// and stops at a flash message, a 404, 409 or 422, never a 403.
type consoleRoute struct {
	min  store.Role
	path func(b *bundle) string
}

func fixed(p string) func(*bundle) string { return func(*bundle) string { return p } }

// consoleAuthz is the least role of every pattern registered in
// (*Console).routes. A pattern registered without an entry here, or an
// entry for a pattern that is no longer registered, fails
// TestConsoleAuthorizationMatrix: adding a console route means deciding who
// may use it.
var consoleAuthz = map[string]consoleRoute{
	"GET /static/":     {public, fixed("/static/console.css")},
	"GET /favicon.ico": {public, fixed("/favicon.ico")},
	"GET /{$}":         {public, fixed("/")},
	"GET /login":       {public, fixed("/login")},
	"POST /login":      {public, fixed("/login")},
	"POST /logout":     {public, fixed("/logout")},
	// The catch-all answers "not found", but only to a signed-in person.
	"/": {store.RoleAuditor, fixed("/no-such-page")},

	"GET /rules":                  {store.RoleAuditor, fixed("/rules")},
	"GET /rules/_new":             {store.RoleAdmin, fixed("/rules/_new")},
	"POST /rules/_new":            {store.RoleAdmin, fixed("/rules/_new")}, // an empty form: 422
	"GET /rules/{id}":             {store.RoleAuditor, fixed("/rules/leavers")},
	"POST /rules/{id}":            {store.RoleAdmin, fixed("/rules/leavers")}, // no base: 409, nothing saved
	"POST /rules/{id}/activate":   {store.RoleAdmin, fixed("/rules/inactive/activate")},
	"POST /rules/{id}/deactivate": {store.RoleAdmin, fixed("/rules/leavers/deactivate")},
	"POST /rules/{id}/delete":     {store.RoleAdmin, fixed("/rules/no-such-rule/delete")}, // the API's 404
	"POST /rules/{id}/dry-run":    {store.RoleOperator, fixed("/rules/leavers/dry-run")},
	"POST /rules/{id}/run":        {store.RoleOperator, fixed("/rules/contractors/run")},

	"GET /runs":                     {store.RoleAuditor, fixed("/runs")},
	"GET /runs/{id}":                {store.RoleAuditor, func(b *bundle) string { return fmt.Sprintf("/runs/%d", b.quarantined) }},
	"POST /runs/{id}/approve":       {store.RoleOperator, func(b *bundle) string { return fmt.Sprintf("/runs/%d/approve", b.quarantined) }},
	"POST /runs/{id}/reject":        {store.RoleOperator, fixed("/runs/999999/reject")},
	"POST /runs/{id}/undo":          {store.RoleOperator, fixed("/runs/999999/undo")},
	"GET /revocations":              {store.RoleAuditor, fixed("/revocations")},
	"POST /revocations/{id}/cancel": {store.RoleOperator, fixed("/revocations/999999/cancel")},
	"POST /revocations/{id}/retry": {store.RoleOperator, func(b *bundle) string {
		return fmt.Sprintf("/revocations/%d/retry", b.failedRev)
	}},
	"POST /revocations/{id}/complete": {store.RoleOperator, fixed("/revocations/999999/complete")},
	"POST /revocations/{id}/reject":   {store.RoleOperator, fixed("/revocations/999999/reject")},

	"GET /applications":                 {store.RoleAuditor, fixed("/applications")},
	"GET /applications/{id}":            {store.RoleAuditor, fixed("/applications/slack")},
	"POST /applications/{id}/aggregate": {store.RoleOperator, fixed("/applications/github/aggregate")},
	"GET /identities":                   {store.RoleAuditor, fixed("/identities")},
	"GET /identities/{source}/{ext...}": {store.RoleAuditor, fixed("/identities/hr/1002")},
	"GET /sources":                      {store.RoleAuditor, fixed("/sources")},
	"POST /sources/{id}/sync":           {store.RoleOperator, fixed("/sources/hr/sync")},
	"POST /held-syncs/{id}/approve":     {store.RoleOperator, fixed("/held-syncs/999999/approve")},
	"POST /held-syncs/{id}/reject":      {store.RoleOperator, fixed("/held-syncs/999999/reject")},
	"GET /audit":                        {store.RoleAuditor, fixed("/audit")},
}

// registeredConsoleRoutes reads the patterns (*Console).routes registers
// from web.go: every mux.Handle and mux.HandleFunc call, with the pattern
// as a string literal, a concatenation of literals, or a concatenation with
// the variable of a range over a []string literal. It fails the test on a
// registration it cannot read, or one anywhere else in the package, rather
// than miss a route.
func registeredConsoleRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	var routesFn *ast.FuncDecl
	sites := 0 // Handle and HandleFunc calls in the package's non-test files
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isRegistration(call) {
				sites++
			}
			if fd, ok := n.(*ast.FuncDecl); ok && fd.Name.Name == "routes" && fd.Recv != nil {
				routesFn = fd
			}
			return true
		})
	}
	if routesFn == nil {
		t.Fatal("no (*Console).routes in package web: the matrix cannot enumerate the console's routes")
	}

	var out []string
	read := 0 // registration sites the walk below understood
	var eval func(e ast.Expr, env map[string]string) (string, bool)
	eval = func(e ast.Expr, env map[string]string) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.Ident:
			s, ok := env[e.Name]
			return s, ok
		case *ast.ParenExpr:
			return eval(e.X, env)
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				x, ok1 := eval(e.X, env)
				y, ok2 := eval(e.Y, env)
				return x + y, ok1 && ok2
			}
		}
		return "", false
	}
	var walk func(stmts []ast.Stmt, env map[string]string, counted bool)
	walk = func(stmts []ast.Stmt, env map[string]string, counted bool) {
		for _, s := range stmts {
			switch s := s.(type) {
			case *ast.ExprStmt:
				call, ok := s.X.(*ast.CallExpr)
				if !ok || !isRegistration(call) {
					continue
				}
				if !counted {
					read++
				}
				p, ok := eval(call.Args[0], env)
				if !ok {
					t.Fatalf("%s: cannot read the pattern of this registration; teach registeredConsoleRoutes to", fset.Position(call.Pos()))
				}
				out = append(out, p)
			case *ast.RangeStmt:
				lit, ok := s.X.(*ast.CompositeLit)
				v, vok := s.Value.(*ast.Ident)
				if !ok || !vok {
					continue // a loop that registers nothing; one that does shows up as an unread site
				}
				for i, el := range lit.Elts {
					val, ok := eval(el, nil)
					if !ok {
						t.Fatalf("%s: cannot read a value of this range", fset.Position(el.Pos()))
					}
					env2 := map[string]string{}
					for k, x := range env {
						env2[k] = x
					}
					env2[v.Name] = val
					walk(s.Body.List, env2, counted || i > 0)
				}
			case *ast.BlockStmt:
				walk(s.List, env, counted)
			}
		}
	}
	walk(routesFn.Body.List, map[string]string{}, false)
	if read != sites {
		t.Fatalf("package web has %d mux registrations, registeredConsoleRoutes read %d of them in (*Console).routes: "+
			"teach it the new form of registration", sites, read)
	}
	slices.Sort(out)
	return out
}

// isRegistration reports whether call is x.Handle(pattern, h) or
// x.HandleFunc(pattern, f).
func isRegistration(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && (sel.Sel.Name == "Handle" || sel.Sel.Name == "HandleFunc") && len(call.Args) == 2
}

// flashText is the one-time message the console left in the client's jar.
func (c *client) flashText(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(c.b.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == flashCookie {
			b, err := base64.RawURLEncoding.DecodeString(ck.Value)
			if err != nil {
				t.Fatalf("flash cookie %q: %v", ck.Value, err)
			}
			return string(b)
		}
	}
	return ""
}

// TestConsoleAuthorizationMatrix sends a request to every console route as
// nobody, auditor, operator and admin, each from a fresh browser session:
//   - nobody is sent to the login page (GET) or told the session ended
//     (POST, 401), unless the route is public;
//   - a role below the route's least role gets the console's 403 "Not
//     allowed" page naming the role it needs, and nothing changes;
//   - a role at or above it gets past authorization — of the console and of
//     the API the console calls — with 2xx, 3xx (not to the login page), or
//     a 404, 409 or 422 of the object, and no refusal in the page or the
//     flash message.
//
// Posts carry the session's CSRF token, so that a 403 can only be the
// role's.
func TestConsoleAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.seed(t)

	registered := registeredConsoleRoutes(t)
	for _, r := range registered {
		if _, ok := consoleAuthz[r]; !ok {
			t.Errorf("console route %q has no entry in consoleAuthz: decide which role may use it", r)
		}
	}
	for r := range consoleAuthz {
		if !slices.Contains(registered, r) {
			t.Errorf("consoleAuthz names %q, which (*Console).routes does not register", r)
		}
	}
	if len(registered) < 30 {
		t.Fatalf("only %d console routes read from web.go: %v", len(registered), registered)
	}

	// Each request must reach the pattern it stands for.
	probe := http.NewServeMux()
	for _, r := range registered {
		probe.Handle(r, http.NotFoundHandler())
	}
	for pattern, route := range consoleAuthz {
		method, _, found := strings.Cut(pattern, " ")
		if !found {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, route.path(b), nil)
		if _, got := probe.Handler(req); got != pattern && slices.Contains(registered, pattern) {
			t.Errorf("consoleAuthz sends %s %s for %q, which the console serves as %q", method, route.path(b), pattern, got)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	rank := map[store.Role]int{"": 0, store.RoleAuditor: 1, store.RoleOperator: 2, store.RoleAdmin: 3}
	callers := []store.Role{"", store.RoleAuditor, store.RoleOperator, store.RoleAdmin}
	checked := 0
	for _, pattern := range registered {
		route, ok := consoleAuthz[pattern]
		if !ok {
			continue
		}
		method, _, found := strings.Cut(pattern, " ")
		if !found {
			method = http.MethodGet // a pattern without a method serves them all
		}
		path := route.path(b)
		for _, role := range callers {
			name := string(role)
			if role == "" {
				name = "nobody"
			}
			t.Run(pattern+" as "+name, func(t *testing.T) {
				c := b.client(t)
				if role != "" {
					c = b.login(t, role)
				}
				var p page
				switch method {
				case http.MethodGet:
					p = c.get(t, path)
				case http.MethodPost:
					form := url.Values{}
					if role != "" {
						form.Set("csrf_token", c.csrf(t))
					}
					if pattern == "POST /login" {
						form.Set("token", b.tok[cmpRole(role)])
					}
					p = c.post(t, path, form)
				default:
					t.Fatalf("no request for method %s", method)
				}
				flash := c.flashText(t)
				loginRedirect := p.status == http.StatusSeeOther && strings.HasPrefix(p.location, "/login?next=")
				what := fmt.Sprintf("%s %s as %s: %d (to %q, flash %q)", method, path, name, p.status, p.location, flash)
				switch {
				case route.min == public:
					if p.status == http.StatusUnauthorized || p.status == http.StatusForbidden || p.status >= 500 || loginRedirect {
						t.Errorf("%s: a public route refused", what)
					}
				case role == "" && method == http.MethodGet:
					if !loginRedirect {
						t.Errorf("%s: want 303 to /login?next=…", what)
					}
				case role == "":
					if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Your session has ended") {
						t.Errorf("%s: want 401, the session-ended page", what)
					}
				case rank[role] < rank[route.min]:
					if p.status != http.StatusForbidden || !strings.Contains(p.body, "Not allowed") ||
						!strings.Contains(p.body, "this needs "+string(route.min)) {
						t.Errorf("%s: want 403, the console's Not allowed page saying it needs %s", what, route.min)
					}
					if flash != "" {
						t.Errorf("%s: a refused request left a flash message", what)
					}
				default:
					ok := p.status >= 200 && p.status < 400 && !loginRedirect ||
						p.status == http.StatusNotFound || p.status == http.StatusConflict || p.status == http.StatusUnprocessableEntity
					if !ok {
						t.Errorf("%s: want it past authorization (2xx, 3xx, 404, 409 or 422)", what)
					}
				}
				// A refusal by the API the console calls shows as a flash
				// or a form error, not as the status.
				if route.min == public || (role != "" && rank[role] >= rank[route.min]) {
					for _, refusal := range []string{"; this needs ", "needs its CSRF token", "console session is required"} {
						if strings.Contains(flash, refusal) || strings.Contains(p.body, refusal) {
							t.Errorf("%s: allowed, but refused: the answer says %q", what, refusal)
						}
					}
				}
				checked++
			})
		}
	}
	if want := len(consoleAuthz) * len(callers); checked != want && !t.Failed() {
		t.Errorf("checked %d route × caller pairs, want %d", checked, want)
	}
}

// cmpRole is role, or the auditor for nobody: the token nobody signs in with.
func cmpRole(r store.Role) store.Role {
	if r == "" {
		return store.RoleAuditor
	}
	return r
}
