package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/deprov/deprov/api"
)

// problem is an RFC 9457 problem as the API answers it.
type problem struct {
	Status int            `json:"status"`
	Title  string         `json:"title"`
	Detail string         `json:"detail"`
	Errors []problemError `json:"errors"`
}

type problemError struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// Error is the problem as one line for a person: the detail and each
// error's message with its location.
func (p *problem) Error() string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(cmpStr(p.Detail, p.Title), "."))
	for i, e := range p.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if loc := strings.TrimPrefix(e.Location, "body."); loc != "" && loc != "body" {
			b.WriteString(loc + ": ")
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// call makes an API request in-process, as the browser's principal: the
// request carries the browser's session cookie (or bearer token) and the
// session's CSRF token, which the console has already checked on the form,
// so the API authenticates, authorises, validates and audits it as it would
// a request from the browser itself. A 2xx answer is decoded into out (when
// not nil); any other answer is returned as a *problem.
func (c *Console) call(r *http.Request, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.RemoteAddr, req.Host = r.RemoteAddr, r.Host
	for _, h := range []string{"Cookie", "Authorization", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if t := c.api.CSRFToken(r); t != "" {
		req.Header.Set(api.CSRFHeader, t)
	}
	// The API's request log line then carries the console request's id.
	if id := api.RequestID(r.Context()); id != "" {
		req.Header.Set(api.RequestIDHeader, id)
	}
	rec := &recorder{header: http.Header{}}
	c.api.Handler().ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 200 && rec.status < 300 {
		if out == nil || rec.body.Len() == 0 {
			return nil
		}
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("decode the answer of %s %s: %w", method, path, err)
		}
		return nil
	}
	p := &problem{}
	if err := json.Unmarshal(rec.body.Bytes(), p); err != nil || p.Status == 0 {
		p = &problem{Status: rec.status, Title: http.StatusText(rec.status), Detail: strings.TrimSpace(rec.body.String())}
	}
	p.Status = rec.status
	return p
}

// recorder is the response writer of an in-process API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
