package web

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strings"
	"time"
)

// funcs are the helpers every template may call.
var funcs = template.FuncMap{
	"time":       fmtTime,
	"zoned":      fmtZoned,
	"rel":        relTime,
	"join":       strings.Join,
	"identity":   identityHref,
	"stateClass": func(s any) string { return "st-" + strings.ReplaceAll(strings.ToLower(fmt.Sprint(s)), " ", "-") },
	"dict":       dict,
	"plural":     plural,
	"list":       func(xs ...string) []string { return xs },
	"has":        func(m map[string][]string, k string) bool { return len(m[k]) > 0 },
}

// fmtTime shows an instant in UTC, to the minute; the zero time is a dash.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// fmtZoned shows an instant in its own zone, as a schedule's fire time.
func fmtZoned(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("Mon 2 Jan 2006, 15:04 MST")
}

// relTime says how far t is from now, roughly: "in 3 days", "5 min ago".
func relTime(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	future := d >= 0
	d = d.Abs()
	var s string
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(math.Round(d.Hours())))
	default:
		days := int(math.Round(d.Hours() / 24))
		s = fmt.Sprintf("%d days", days)
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// identityHref links an identity key ("source/externalId") to its page.
func identityHref(key string) string {
	src, ext, ok := strings.Cut(key, "/")
	if !ok {
		return "/identities?search=" + url.QueryEscape(key)
	}
	return "/identities/" + url.PathEscape(src) + "/" + url.PathEscape(ext)
}

// dict builds a map for a partial template: dict "k1" v1 "k2" v2.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
