package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/deprov/deprov/store"
)

// Principal is who a request acts for: an API token, presented directly
// or through a console session.
type Principal struct {
	TokenID int64      `json:"tokenId"`
	Name    string     `json:"name"`
	Role    store.Role `json:"role"`
	// Session says the request was authenticated by the session cookie (so
	// state-changing requests need the CSRF token).
	Session bool `json:"session"`
}

// Actor is how the audit names the principal: "token:<name>".
func (p Principal) Actor() string { return "token:" + p.Name }

// rank orders roles; an unknown role ranks below every real one.
func rank(r store.Role) int {
	switch r {
	case store.RoleAdmin:
		return 3
	case store.RoleOperator:
		return 2
	case store.RoleAuditor:
		return 1
	}
	return 0
}

// Allows reports whether the principal's role is min or above it.
func (p Principal) Allows(min store.Role) bool { return rank(p.Role) >= rank(min) && rank(min) > 0 }

type principalKey struct{}

// PrincipalFrom returns the principal that RequireRole (or an API route)
// authenticated for ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Errors of the session functions.
var (
	// ErrBadToken: the token is unknown or revoked.
	ErrBadToken = errors.New("unknown or revoked token")
	// ErrNoSession: the request has no valid session cookie.
	ErrNoSession = errors.New("no valid session")
	// ErrCSRF: the CSRF token is missing or wrong.
	ErrCSRF = errors.New("missing or wrong CSRF token")
)

const (
	sessionCookie = "deprov_session"
	// CSRFHeader carries the CSRF token on state-changing requests
	// authenticated by the session cookie.
	CSRFHeader = "X-CSRF-Token"
	// CSRFField is the form field the console's forms carry it in.
	CSRFField = "csrf_token"
	// sessionKeySetting is where the session signing key is kept, shared by
	// every node on the database.
	sessionKeySetting = "session.key"
	// touchEvery is the least interval between two recorded uses of a token.
	touchEvery = time.Minute
)

func (a *API) loadSessionKey(ctx context.Context) error {
	fresh, err := randomBytes(32)
	if err != nil {
		return err
	}
	v, err := a.st.PutSettingIfAbsent(ctx, sessionKeySetting, hex.EncodeToString(fresh))
	if err != nil {
		return fmt.Errorf("api: session key: %w", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < 32 {
		return fmt.Errorf("api: the stored session key (setting %s) is malformed", sessionKeySetting)
	}
	a.sessionKey = key
	return nil
}

// Authenticate identifies the request's principal from its bearer token
// or, without an Authorization header, its session cookie. A revoked token
// authenticates nothing, whichever way it is presented.
func (a *API) Authenticate(r *http.Request) (Principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, false
		}
		t, err := a.st.TokenByHash(r.Context(), HashToken(strings.TrimSpace(secret)))
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				a.log.Warn("authenticate: token lookup failed", "request_id", RequestID(r.Context()), "error", err)
			}
			return Principal{}, false
		}
		a.touch(r.Context(), t.ID)
		return Principal{TokenID: t.ID, Name: t.Name, Role: t.Role}, true
	}
	s, ok := a.session(r)
	if !ok {
		return Principal{}, false
	}
	t, err := a.tokenByID(r.Context(), s.tokenID)
	if err != nil || !t.RevokedAt.IsZero() {
		return Principal{}, false
	}
	a.touch(r.Context(), t.ID)
	return Principal{TokenID: t.ID, Name: t.Name, Role: t.Role, Session: true}, true
}

func (a *API) tokenByID(ctx context.Context, id int64) (store.Token, error) {
	ts, err := a.st.ListTokens(ctx)
	if err != nil {
		return store.Token{}, err
	}
	for _, t := range ts {
		if t.ID == id {
			return t, nil
		}
	}
	return store.Token{}, fmt.Errorf("token %d: %w", id, store.ErrNotFound)
}

// touch records a token's use, at most once a minute per token and node;
// a failure only costs the "last used" column its accuracy.
func (a *API) touch(ctx context.Context, id int64) {
	now := a.now()
	a.touchMu.Lock()
	last, seen := a.touched[id]
	due := !seen || now.Sub(last) >= touchEvery || now.Before(last)
	if due {
		a.touched[id] = now
	}
	a.touchMu.Unlock()
	if !due {
		return
	}
	if err := a.st.TouchToken(ctx, id, now); err != nil {
		a.log.Debug("record token use", "token", id, "error", err)
	}
}

// session is a verified session cookie.
type session struct {
	tokenID int64
	expires time.Time
	nonce   string
}

// The cookie is "v1.<token id>.<expiry, unix seconds>.<nonce>.<mac>", the
// MAC an HMAC-SHA256 of everything before it under the shared session key.
func (a *API) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write([]byte(strings.Join(parts, ".")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (a *API) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 5 || parts[0] != "v1" {
		return session{}, false
	}
	if !hmac.Equal([]byte(parts[4]), []byte(a.mac(parts[:4]...))) {
		return session{}, false
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return session{}, false
	}
	s := session{tokenID: id, expires: time.Unix(exp, 0), nonce: parts[3]}
	if !a.now().Before(s.expires) {
		return session{}, false
	}
	return s, true
}

// Login checks an API token and starts a console session for it: a cookie
// (HttpOnly, SameSite=Strict, Secure when serving TLS) holding the token's
// id and an expiry, signed with the server key. The token itself is not kept
// in the cookie; revoking the token ends its sessions.
func (a *API) Login(w http.ResponseWriter, r *http.Request, token string) error {
	t, err := a.st.TokenByHash(r.Context(), HashToken(strings.TrimSpace(token)))
	if errors.Is(err, store.ErrNotFound) {
		return ErrBadToken
	}
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	nonce, err := randomBytes(16)
	if err != nil {
		return err
	}
	exp := a.now().Add(a.sessionTTL)
	parts := []string{"v1", strconv.FormatInt(t.ID, 10), strconv.FormatInt(exp.Unix(), 10), base64.RawURLEncoding.EncodeToString(nonce)}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    strings.Join(parts, ".") + "." + a.mac(parts...),
		Path:     "/",
		Expires:  exp,
		MaxAge:   int(a.sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteStrictMode,
	})
	a.log.Info("console session started", "request_id", RequestID(r.Context()), "token", t.Name, "role", t.Role)
	return nil
}

// Logout ends the browser's session by clearing its cookie. (Sessions are
// stateless: revoke the token to end every session of it at once.)
func (a *API) Logout(w http.ResponseWriter, _ *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode,
	})
}

// CSRFToken returns the CSRF token of the request's session, for the
// console to put in its forms (field csrf_token) or send as the
// X-CSRF-Token header; "" without a valid session.
func (a *API) CSRFToken(r *http.Request) string {
	s, ok := a.session(r)
	if !ok {
		return ""
	}
	return a.csrfFor(s)
}

func (a *API) csrfFor(s session) string { return a.mac("csrf", s.nonce) }

// CheckCSRF checks the CSRF token of a request authenticated by the
// session cookie: the X-CSRF-Token header or, for a form post, the
// csrf_token field, compared in constant time. A request carrying an
// Authorization header needs none (browsers never add one on their own).
func (a *API) CheckCSRF(r *http.Request) error { return a.checkCSRF(r, true) }

func (a *API) checkCSRF(r *http.Request, allowForm bool) error {
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	s, ok := a.session(r)
	if !ok {
		return ErrNoSession
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" && allowForm {
		got = r.PostFormValue(CSRFField)
	}
	want := a.csrfFor(s)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrCSRF
	}
	return nil
}

// safeMethod reports whether a method never changes state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// RequireRole serves h only to a principal of role min or above: 401 (with
// WWW-Authenticate) without one, 403 for a lesser role, and 403 for a
// state-changing request authenticated by the session cookie without its
// CSRF token. h finds the principal with PrincipalFrom.
func (a *API) RequireRole(min store.Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, status, msg := a.check(r, min, true)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="deprov"`)
			}
			writeProblem(w, status, msg)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// check authenticates and authorises a request; a zero status means go on.
func (a *API) check(r *http.Request, min store.Role, allowForm bool) (Principal, int, string) {
	p, ok := a.Authenticate(r)
	if !ok {
		return p, http.StatusUnauthorized, "a valid bearer token (Authorization: Bearer dpv_…) or console session is required"
	}
	noteActor(r.Context(), p)
	if p.Session && !safeMethod(r.Method) {
		if err := a.checkCSRF(r, allowForm); err != nil {
			return p, http.StatusForbidden, "this request is authenticated by the session cookie and needs its CSRF token (header " + CSRFHeader + ")"
		}
	}
	if !p.Allows(min) {
		return p, http.StatusForbidden, fmt.Sprintf("token %q has role %s; this needs %s", p.Name, p.Role, min)
	}
	return p, 0, ""
}

// roleKey is the operation metadata key of the least role an operation needs.
const roleKey = "deprov.role"

// authorize is the huma middleware of every API operation: it fails closed
// on an operation registered without a role.
func (a *API) authorize(ctx huma.Context, next func(huma.Context)) {
	min, ok := ctx.Operation().Metadata[roleKey].(store.Role)
	if !ok {
		_ = huma.WriteErr(a.huma, ctx, http.StatusInternalServerError, "operation has no role")
		return
	}
	ctx.SetHeader("X-Content-Type-Options", "nosniff")
	r, _ := humago.Unwrap(ctx)
	p, status, msg := a.check(r, min, false)
	if status != 0 {
		if status == http.StatusUnauthorized {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="deprov"`)
		}
		_ = huma.WriteErr(a.huma, ctx, status, msg)
		return
	}
	// Answers concern one principal and may carry a token's secret: no
	// cache keeps them.
	ctx.SetHeader("Cache-Control", "no-store")
	next(huma.WithValue(ctx, principalKey{}, p))
}

// principal returns the authenticated principal of an operation's context.
func principal(ctx context.Context) Principal {
	p, _ := PrincipalFrom(ctx)
	return p
}
