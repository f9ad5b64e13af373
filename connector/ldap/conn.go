package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/connector"
)

// connect returns the shared connection, dialling and binding a new one
// when there is none or the last one broke. reused tells a connection that
// may have gone stale since its last use.
func (c *Connector) connect(ctx context.Context) (conn *goldap.Conn, reused bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil && !c.conn.IsClosing() {
		return c.conn, true, nil
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	if c.setupErr != nil && c.now().Sub(c.setupAt) < setupBackoff {
		return nil, false, c.setupErr
	}
	conn, err = c.dial(ctx)
	if err != nil {
		var re *connector.RetryableError
		if !errors.As(err, &re) && !errors.Is(err, context.Canceled) {
			err = &setupError{err}
			c.setupErr, c.setupAt = err, c.now()
		}
		return nil, false, err
	}
	c.setupErr = nil
	c.conn = conn
	return conn, false, nil
}

// setupBackoff is how long a failed bind (or TLS setup) is answered from
// memory: a wrong password tried by every worker at once could lock the
// service account under the directory's own password policy.
const setupBackoff = 30 * time.Second

// discard drops conn after a failure, unless another caller replaced it.
func (c *Connector) discard(conn *goldap.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
	}
	conn.Close()
}

// dial connects, upgrades to TLS as configured, and binds. Its errors are
// final: retryable for the network, a plain error for what a retry cannot
// fix (credentials, certificates).
func (c *Connector) dial(ctx context.Context) (*goldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, c.netErr("connect to "+c.host(), err)
	}
	if c.ldaps {
		tc := tls.Client(raw, c.tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, c.tlsErr("TLS handshake with "+c.host(), err)
		}
		raw = tc
	}
	conn := goldap.NewConn(raw, c.ldaps)
	conn.Start()
	conn.SetTimeout(c.cfg.Timeout)

	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tlsCfg); err != nil {
			conn.Close()
			var le *goldap.Error
			if errors.As(err, &le) && le.ResultCode != goldap.ErrorNetwork {
				return nil, fmt.Errorf("ldap: %s refused StartTLS (%s): set startTLS to false or use ldaps://", c.host(), describe(le))
			}
			if msg := err.Error(); strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") {
				// go-ldap keeps only the text of the handshake error.
				return nil, fmt.Errorf("ldap: StartTLS with %s: %s: set caFile to the CA that signed the directory's certificate", c.host(), goldapText(err))
			}
			return nil, c.netErr("StartTLS with "+c.host(), err)
		}
	}

	if err := conn.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		conn.Close()
		var le *goldap.Error
		switch {
		case goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials):
			return nil, errors.New("ldap: bind failed (49 invalid credentials): check bindDN and bindPassword")
		case isTransient(err):
			return nil, connector.Retryable(fmt.Errorf("ldap: bind to %s: %s", c.host(), c.redact(goldapText(err))), 0)
		case errors.As(err, &le):
			return nil, fmt.Errorf("ldap: bind failed (%s): check bindDN and the directory's security settings", c.redact(describe(le)))
		default:
			return nil, fmt.Errorf("ldap: bind to %s: %s", c.host(), c.redact(err.Error()))
		}
	}
	return conn, nil
}

// run runs op on the shared connection, after the application's rate
// limiter (connector.Throttle) lets it. A connection that was idle may
// have been closed by the directory meanwhile: when op fails on such a
// connection before delivering anything (see noRetry), run reconnects and
// runs op once more. Every operation deprov sends is safe to repeat.
func (c *Connector) run(ctx context.Context, op func(*goldap.Conn) error) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		conn, reused, err := c.connect(ctx)
		if err != nil {
			return err
		}
		if err := connector.Throttle(ctx); err != nil {
			return err
		}
		err = op(conn)
		if err == nil || !isBroken(err) {
			return err
		}
		c.discard(conn)
		var nr *noRetryError
		if reused && attempt == 1 && !errors.As(err, &nr) {
			continue
		}
		return err
	}
}

// setupError is a final failure to connect, start TLS or bind: it already
// says what to check, and fail passes it on as it is.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// noRetryError marks a failure after op had partly run (a listing that has
// called back): run must not repeat it.
type noRetryError struct{ err error }

func (e *noRetryError) Error() string { return e.err.Error() }
func (e *noRetryError) Unwrap() error { return e.err }

// isBroken tells a failure of the connection itself.
func isBroken(err error) bool {
	return goldap.IsErrorAnyOf(err, goldap.ErrorNetwork, goldap.LDAPResultServerDown, goldap.LDAPResultConnectError)
}

// isTransient tells a failure worth retrying later: a broken connection, or
// a directory that says it is busy or unavailable.
func isTransient(err error) bool {
	return isBroken(err) || goldap.IsErrorAnyOf(err, goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultTimeout)
}

// fail gives an operation's error its final form: what was done (op, such
// as "modify uid=alice,ou=people,dc=example,dc=com"), the LDAP result code
// and the directory's message; retryable when isTransient.
func (c *Connector) fail(op string, err error) error {
	var (
		re *connector.RetryableError
		se *setupError
		le *goldap.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re), errors.As(err, &se), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case isTransient(err):
		return connector.Retryable(fmt.Errorf("ldap: %s at %s: %s", op, c.host(), c.redact(goldapText(err))), 0)
	case errors.As(err, &le):
		return fmt.Errorf("ldap: %s: %s", op, c.redact(describe(le)))
	}
	return fmt.Errorf("ldap: %s: %w", op, err) // not from the directory: a limiter's, say
}

// netErr is a failure to reach the directory: retryable, unless the
// caller gave up.
func (c *Connector) netErr(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("ldap: %s: %w", op, err)
	}
	return connector.Retryable(fmt.Errorf("ldap: %s: %s", op, goldapText(err)), 0)
}

// tlsErr tells a certificate or protocol mismatch, which a retry cannot fix,
// from a connection that broke during the handshake.
func (c *Connector) tlsErr(op string, err error) error {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return fmt.Errorf("ldap: %s: %v: set caFile to the CA that signed the directory's certificate", op, err)
	case errors.As(err, &record):
		return fmt.Errorf("ldap: %s: the server does not speak TLS on this port: use ldap:// (with startTLS) or the LDAPS port", op)
	case errors.Is(err, io.EOF):
		// A plain LDAP port hangs up on a TLS hello; so does a server that
		// is going down. Only the second is worth a retry, but both look alike.
		return c.netErr(op+" (if this keeps failing: is it the LDAPS port?)", err)
	}
	return c.netErr(op, err)
}

// describe is "CODE name: message", as in "65 object class violation:
// object class 'groupOfNames' requires attribute 'member'".
func describe(le *goldap.Error) string {
	s := fmt.Sprintf("%d %s", le.ResultCode, strings.ToLower(goldap.LDAPResultCodeMap[le.ResultCode]))
	if le.ResultCode >= goldap.ErrorNetwork {
		s = "network error"
	}
	if le.Err != nil {
		if msg := strings.TrimSpace(le.Err.Error()); msg != "" {
			s += ": " + msg
		}
	}
	return s
}

func goldapText(err error) string {
	var le *goldap.Error
	if errors.As(err, &le) {
		return describe(le)
	}
	return err.Error()
}

// redact removes the bind password, should a directory ever echo it.
func (c *Connector) redact(s string) string {
	if c.cfg.BindPassword != "" {
		s = strings.ReplaceAll(s, c.cfg.BindPassword, "[redacted]")
	}
	return s
}
