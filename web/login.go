package web

import (
	"errors"
	"net/http"

	"github.com/deprov/deprov/api"
)

// loginData is the login page's data.
type loginData struct {
	Next  string
	Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !localPath(next) {
		next = "/rules"
	}
	if _, ok := c.api.Authenticate(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", &view{Title: "Sign in", Now: c.e.Now()}, loginData{Next: next})
}

// login starts a session for an API token. The token is checked by
// api.Login, which sets the session cookie; the token itself is never kept.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	next := r.PostFormValue("next")
	if !localPath(next) {
		next = "/rules"
	}
	token := r.PostFormValue("token")
	err := c.api.Login(w, r, token)
	if err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	status, msg := http.StatusUnauthorized, "That token is unknown or has been revoked."
	if token == "" {
		msg = "Enter an API token."
	}
	if !errors.Is(err, api.ErrBadToken) {
		c.log.Error("console: login failed", "request_id", api.RequestID(r.Context()), "error", err)
		status, msg = http.StatusInternalServerError, "Signing in failed; the server log has the details."
	} else {
		c.log.Warn("console: sign-in with an unknown or revoked token", "request_id", api.RequestID(r.Context()), "remote", r.RemoteAddr)
	}
	c.render(w, status, "login", &view{Title: "Sign in", Now: c.e.Now()}, loginData{Next: next, Error: msg})
}

// logout ends the browser's session. It is a form post with the CSRF
// token, so that no other site can sign a person out.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.api.Authenticate(r); ok {
		if err := c.api.CheckCSRF(r); err != nil {
			c.refused(w, r, "The form did not carry this session's security token.")
			return
		}
	}
	c.api.Logout(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
