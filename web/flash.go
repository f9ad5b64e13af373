package web

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// flash is a one-time message shown on the page a form post redirects to.
type flash struct {
	// Kind is ok or error.
	Kind string
	Text string
}

const flashCookie = "deprov_flash"

// setFlash leaves a message for the next page. It travels in a short-lived
// cookie rather than the URL, so that no link can make the console say
// something it did not.
func setFlash(w http.ResponseWriter, kind, text string) {
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + text)),
		Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// takeFlash reads and clears the message left for this page.
func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(string(b), ":")
	if !ok || (kind != "ok" && kind != "error") || text == "" {
		return nil
	}
	return &flash{Kind: kind, Text: text}
}

// done redirects after a form post, with the outcome as a flash message:
// ok on success, the API's problem (or the error) otherwise.
func done(w http.ResponseWriter, r *http.Request, to, ok string, err error) {
	if err != nil {
		setFlash(w, "error", errorText(err))
	} else if ok != "" {
		setFlash(w, "ok", ok)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// errorText is what a person reads of an error.
func errorText(err error) string {
	var p *problem
	if errors.As(err, &p) {
		return p.Error()
	}
	return err.Error()
}

// back returns the form's "back" field when it is a path of this console,
// else def; a redirect never leaves the site.
func back(r *http.Request, def string) string {
	b := r.PostFormValue("back")
	if localPath(b) {
		return b
	}
	return def
}

// localPath reports whether s is a path on this site (not //host or /\host).
func localPath(s string) bool {
	return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\") &&
		!strings.ContainsAny(s, "\r\n")
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
