package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/deprov/deprov/connector/httpclient"

	"github.com/deprov/deprov/connector"
)

const (
	mediaType = "application/scim+json"
	// maxBody bounds what is read of one answer: a list page of 1000 users
	// with groups fits many times over.
	maxBody = 64 << 20
	// maxDetail bounds the server's error text quoted in our errors.
	maxDetail = 300
)

// errNotFound marks a 404 answer; actions translate it into AlreadyDone.
var errNotFound = errors.New("not found")

// StatusError is a non-2xx answer from the target, with the SCIM error
// message's scimType and detail when the body held one.
type StatusError struct {
	Method string
	// Path is the request path below the base URL, such as /Users/ID.
	Path     string
	Status   int
	ScimType string
	Detail   string
}

func (e *StatusError) Error() string {
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Sprintf("scim: authentication failed (%d): check the application's token", e.Status)
	}
	msg := fmt.Sprintf("scim: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.ScimType != "" {
		msg += " (" + e.ScimType + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap lets errors.Is(err, errNotFound) see a 404.
func (e *StatusError) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return errNotFound
	}
	return nil
}

// scimError is the body of a SCIM error answer (RFC 7644 §3.12).
type scimError struct {
	ScimType string `json:"scimType"`
	Detail   string `json:"detail"`
}

// do sends one request to base+path and decodes a JSON answer into out
// (when out is not nil and the answer has a body). It returns the status.
//
// Errors: 429, 5xx and network failures are connector.RetryableError with
// Retry-After; 404 wraps errNotFound; every other non-2xx is a *StatusError.
// The token is never part of an error.
func (c *Connector) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("scim: %s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	if err := connector.Throttle(ctx); err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("scim: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", mediaType)
	if body != nil {
		req.Header.Set("Content-Type", mediaType)
	}

	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			// Our caller gave up: not the target's fault, not ours to retry.
			return 0, fmt.Errorf("scim: %s %s: %w", method, path, ctx.Err())
		}
		return 0, connector.Retryable(fmt.Errorf("scim: %s %s: %w", method, path, c.redactErr(err)), 0)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return resp.StatusCode, connector.Retryable(fmt.Errorf("scim: %s %s: read answer: %w", method, path, c.redactErr(err)), 0)
	}
	if len(data) > maxBody {
		return resp.StatusCode, fmt.Errorf("scim: %s %s: answer larger than %d MiB", method, path, maxBody>>20)
	}

	if resp.StatusCode/100 == 2 {
		if out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return resp.StatusCode, fmt.Errorf("scim: %s %s: decode %s answer: %w", method, path, contentType(resp), err)
			}
		}
		return resp.StatusCode, nil
	}

	serr := &StatusError{Method: method, Path: path, Status: resp.StatusCode}
	var body2 scimError
	if json.Unmarshal(data, &body2) == nil {
		serr.ScimType = c.redact(body2.ScimType, 50)
		serr.Detail = c.redact(body2.Detail, maxDetail)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return resp.StatusCode, connector.Retryable(serr, httpclient.RetryAfter(resp.Header.Get("Retry-After"), c.now()))
	}
	return resp.StatusCode, serr
}

// redact cuts s to max runes and removes the token, should a server echo it.
func (c *Connector) redact(s string, max int) string {
	if c.token != "" {
		s = strings.ReplaceAll(s, c.token, "[redacted]")
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

func (c *Connector) redactErr(err error) error {
	if c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return errors.New(c.redact(err.Error(), 1000))
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "untyped"
}
