package api

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/deprov/deprov/store"
)

// login starts a session for secret the way the console does, and returns
// its cookie.
func login(t *testing.T, b *bundle, secret string) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := b.a.Login(rec, httptest.NewRequest(http.MethodPost, "/login", nil), secret); err != nil {
		t.Fatal(err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("login set %d cookies, want 1", len(cs))
	}
	return cs[0]
}

// withCookie sends a request with a session cookie and, when csrf is not
// "", the CSRF header.
func withCookie(t *testing.T, b *bundle, method, path, body string, c *http.Cookie, csrf string) response {
	t.Helper()
	hdr := []string{"Cookie", c.Name + "=" + c.Value}
	if csrf != "" {
		hdr = append(hdr, CSRFHeader, csrf)
	}
	return b.do(t, method, path, "", body, hdr...)
}

// csrfOf asks the API for the CSRF token of a session cookie.
func csrfOf(b *bundle, c *http.Cookie) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(c)
	return b.a.CSRFToken(r)
}

func TestLoginCookie(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		b := setup(t, func(o *Options) { o.Secure = secure })
		c := login(t, b, b.tok[store.RoleOperator])
		if c.Name != sessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure {
			t.Errorf("secure=%v: cookie %+v, want HttpOnly, SameSite=Strict, Secure=%v", secure, c, secure)
		}
		if strings.Contains(c.Value, b.tok[store.RoleOperator]) || strings.Contains(c.Value, HashToken(b.tok[store.RoleOperator])) {
			t.Error("the cookie carries the token or its hash")
		}
		if c.MaxAge <= 0 || c.Expires.IsZero() {
			t.Errorf("cookie without an expiry: %+v", c)
		}
	}
	b := setup(t)
	if err := b.a.Login(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/login", nil), "dpv_wrong"); !errors.Is(err, ErrBadToken) {
		t.Errorf("login with a wrong token: %v, want ErrBadToken", err)
	}
}

func TestSessionAndCSRF(t *testing.T) {
	b := setup(t)
	b.seed(t)
	c := login(t, b, b.tok[store.RoleOperator])
	csrf := csrfOf(b, c)
	if csrf == "" {
		t.Fatal("no CSRF token for a valid session")
	}
	const run = "/api/v1/rules/leavers/run"
	steps := []struct {
		name               string
		method, path, body string
		cookie             *http.Cookie
		csrf               string
		status             int
	}{
		{"read with the cookie alone", http.MethodGet, "/api/v1/me", "", c, "", http.StatusOK},
		{"plain route with the cookie", http.MethodGet, "/metrics", "", c, "", http.StatusOK},
		{"POST without the CSRF token", http.MethodPost, run, `{"dryRun":true}`, c, "", http.StatusForbidden},
		{"POST with a wrong CSRF token", http.MethodPost, run, `{"dryRun":true}`, c, csrf + "x", http.StatusForbidden},
		{"POST with the CSRF token", http.MethodPost, run, `{"dryRun":true}`, c, csrf, http.StatusOK},
		{"admin route with an operator session", http.MethodGet, "/api/v1/tokens", "", c, csrf, http.StatusForbidden},
		{"tampered signature", http.MethodGet, "/api/v1/me", "", tamper(c, func(p []string) { p[4] = flip(p[4]) }), "", http.StatusUnauthorized},
		{"another token's id", http.MethodGet, "/api/v1/me", "", tamper(c, func(p []string) { p[1] = "1" }), "", http.StatusUnauthorized},
		{"a later expiry", http.MethodGet, "/api/v1/me", "", tamper(c, func(p []string) { p[2] += "9" }), "", http.StatusUnauthorized},
		{"garbage", http.MethodGet, "/api/v1/me", "", &http.Cookie{Name: sessionCookie, Value: "v1.x.y"}, "", http.StatusUnauthorized},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := withCookie(t, b, s.method, s.path, s.body, s.cookie, s.csrf)
			if r.status != s.status {
				t.Fatalf("status %d, want %d: %s", r.status, s.status, r.body)
			}
		})
	}
	// The session acts as its token: the audit names it.
	evs := b.do(t, http.MethodGet, "/api/v1/me", "", "", "Cookie", c.Name+"="+c.Value)
	var me Principal
	evs.json(t, &me)
	if me.Name != "test-operator" || me.Role != store.RoleOperator || !me.Session {
		t.Errorf("me = %+v", me)
	}

	// A form post of the console carries the token as a field.
	form := httptest.NewRequest(http.MethodPost, "/rules/leavers", strings.NewReader(CSRFField+"="+csrf))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form.AddCookie(c)
	if err := b.a.CheckCSRF(form); err != nil {
		t.Errorf("form with the CSRF field: %v", err)
	}
	form = httptest.NewRequest(http.MethodPost, "/rules/leavers", strings.NewReader("name=x"))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	form.AddCookie(c)
	if err := b.a.CheckCSRF(form); !errors.Is(err, ErrCSRF) {
		t.Errorf("form without the CSRF field: %v, want ErrCSRF", err)
	}
	// Bearer requests need no CSRF token.
	if r := b.do(t, http.MethodPost, run, b.tok[store.RoleOperator], `{"dryRun":true}`); r.status != http.StatusOK {
		t.Errorf("bearer POST: %d %s", r.status, r.body)
	}

	// RequireRole, as the console uses it.
	h := b.a.RequireRole(store.RoleOperator, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		io.WriteString(w, p.Name)
	}))
	req := httptest.NewRequest(http.MethodPost, "/rules/leavers/run", nil)
	req.AddCookie(c)
	req.Header.Set(CSRFHeader, csrf)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "test-operator" {
		t.Errorf("RequireRole: %d %s", rec.Code, rec.Body)
	}

	// Logout clears the cookie.
	rec = httptest.NewRecorder()
	b.a.Logout(rec, req)
	if cs := rec.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout cookies: %+v", cs)
	}

	// Expiry, on the injected clock.
	b.clock.Add(DefaultSessionTTL - time.Second)
	if r := withCookie(t, b, http.MethodGet, "/api/v1/me", "", c, ""); r.status != http.StatusOK {
		t.Errorf("a second before expiry: %d", r.status)
	}
	b.clock.Add(time.Second)
	wantProblem(t, withCookie(t, b, http.MethodGet, "/api/v1/me", "", c, ""), http.StatusUnauthorized)
	if csrfOf(b, c) != "" {
		t.Error("an expired session still has a CSRF token")
	}
}

func TestRevokingATokenEndsItsSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := login(t, b, b.tok[store.RoleAuditor])
	var tokens list[store.Token]
	b.do(t, http.MethodGet, "/api/v1/tokens", adminSecret, "").json(t, &tokens)
	var id string
	for _, tk := range tokens.Items {
		if tk.Name == "test-auditor" {
			id = itoa(tk.ID)
		}
	}
	if r := b.do(t, http.MethodDelete, "/api/v1/tokens/"+id, adminSecret, ""); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantProblem(t, withCookie(t, b, http.MethodGet, "/api/v1/me", "", c, ""), http.StatusUnauthorized)
	wantProblem(t, b.do(t, http.MethodGet, "/api/v1/me", b.tok[store.RoleAuditor], ""), http.StatusUnauthorized)
	wantProblem(t, b.do(t, http.MethodDelete, "/api/v1/tokens/"+id, adminSecret, ""), http.StatusConflict)
}

// tamper returns a copy of c with the value's dot-separated parts changed.
func tamper(c *http.Cookie, f func([]string)) *http.Cookie {
	parts := strings.Split(c.Value, ".")
	f(parts)
	return &http.Cookie{Name: c.Name, Value: strings.Join(parts, ".")}
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
