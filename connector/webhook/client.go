package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deprov/deprov/connector/httpclient"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

const (
	// maxAnswer bounds what is read of an answer.
	maxAnswer = 64 << 10
	// maxMessage bounds the receiver's message quoted in results and errors.
	maxMessage = 200
	userAgent  = "deprov-webhook/1"
)

// StatusError is an answer that fails the action: a 4xx other than 404,
// 409 and 410 (and 404 or 410 to enable), or a redirect. Message is the
// receiver's own, from a JSON "error" or "message" field or the body's
// text, at most 200 bytes.
type StatusError struct {
	Action  string
	Status  int
	Message string
	// URL is the receiver's URL without its query.
	URL string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: %s: POST %s: %d %s", e.Action, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		msg += " (check the application's secret and headers: the receiver verifies " + HeaderSignature + ")"
	case e.Status/100 == 3:
		msg += " (redirects are not followed: configure the final URL)"
	}
	return msg
}

// send POSTs action on acct and reads the answer.
func (c *Connector) send(ctx context.Context, action string, acct account.Account) (connector.Result, error) {
	if acct.NativeID == "" && acct.UserName == "" {
		return connector.Result{}, fmt.Errorf("%s: account has neither an id nor a userName", action)
	}
	now := c.now()
	p := c.payload(ctx, action, acct, now)
	body, err := json.Marshal(p)
	if err != nil {
		return connector.Result{}, fmt.Errorf("webhook: %s: encode: %w", action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return connector.Result{}, fmt.Errorf("webhook: %s: %w", action, err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, "v1="+sign(c.secret, ts, body))
	req.Header.Set(HeaderIdempotencyKey, p.IdempotencyKey)

	if err := connector.Throttle(ctx); err != nil {
		return connector.Result{}, fmt.Errorf("webhook: %s: %w", action, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return connector.Result{}, c.transportErr(ctx, action, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil && resp.StatusCode/100 != 2 {
		return connector.Result{}, connector.Retryable(fmt.Errorf("webhook: %s: POST %s: read answer: %v", action, c.safeURL(), err), 0)
	}
	msg := c.message(answer)
	status := resp.StatusCode
	said := func(what string) string {
		s := fmt.Sprintf("receiver %s %s (%d %s)", what, action, status, http.StatusText(status))
		if msg != "" {
			s += ": " + msg
		}
		return s
	}

	switch {
	case status/100 == 2:
		return connector.Result{Detail: said("did")}, nil
	case action == ActionEnable && (status == http.StatusNotFound || status == http.StatusGone):
		e := &StatusError{Action: action, Status: status, Message: msg, URL: c.safeURL()}
		return connector.Result{}, fmt.Errorf("%w: the account no longer exists there and cannot be enabled", e)
	case status == http.StatusNotFound || status == http.StatusConflict || status == http.StatusGone:
		return connector.Result{AlreadyDone: true, Detail: said("had already done")}, nil
	case status == http.StatusTooManyRequests || status/100 == 5:
		e := &StatusError{Action: action, Status: status, Message: msg, URL: c.safeURL()}
		return connector.Result{}, connector.Retryable(e, httpclient.RetryAfter(resp.Header.Get("Retry-After"), c.now()))
	}
	return connector.Result{}, &StatusError{Action: action, Status: status, Message: msg, URL: c.safeURL()}
}

// transportErr is a request that got no answer: retryable, unless the
// caller gave up or the receiver's certificate is not trusted.
func (c *Connector) transportErr(ctx context.Context, action string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without the URL, whose query may hold a token
	}
	wrapped := fmt.Errorf("webhook: %s: POST %s: %s", action, c.safeURL(), c.redact(err.Error()))
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("webhook: %s: POST %s: %w", action, c.safeURL(), ctx.Err())
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host):
		return fmt.Errorf("%w (set caFile to the CA that signed the receiver's certificate)", wrapped)
	}
	return connector.Retryable(wrapped, 0)
}

// message is the receiver's message: a JSON "error" or "message" (or
// "error": {"message": ...}), else the body's text; one line, at most
// maxMessage bytes, with no secret of ours in it.
func (c *Connector) message(body []byte) string {
	var m struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	text := string(body)
	if json.Unmarshal(body, &m) == nil {
		var s string
		var nested struct{ Message string }
		switch {
		case json.Unmarshal(m.Error, &s) == nil && s != "":
			text = s
		case json.Unmarshal(m.Error, &nested) == nil && nested.Message != "":
			text = nested.Message
		case m.Message != "":
			text = m.Message
		}
	}
	text = strings.Join(strings.Fields(c.redact(text)), " ")
	if len(text) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = strings.TrimSpace(text[:cut]) + "…"
	}
	return text
}

// redact removes the secret and the configured header values, should a
// receiver echo them.
func (c *Connector) redact(s string) string {
	if len(c.secret) > 0 {
		s = strings.ReplaceAll(s, string(c.secret), "[redacted]")
	}
	for _, v := range c.headers {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// safeURL is the receiver's URL without its query, for messages.
func (c *Connector) safeURL() string {
	u, err := url.Parse(c.url)
	if err != nil {
		return "(receiver)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
