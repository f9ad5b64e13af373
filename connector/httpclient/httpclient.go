// Package httpclient is what HTTP-based connectors (SCIM, webhook) share:
// a client that trusts a configured CA and never follows redirects (which
// would carry credentials or signed bodies elsewhere), CA bundles for TLS,
// and Retry-After parsing.
package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Options shape a client.
type Options struct {
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string
	// InsecureSkipVerify turns certificate checks off (tests only).
	InsecureSkipVerify bool
	// Timeout bounds each request.
	Timeout time.Duration
}

// New builds a client for o. Errors name the CA file, never its content.
func New(o Options) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	// Up to 256 workers of a node may talk to one target at once: keep their
	// connections instead of opening (and TLS-handshaking) one per request.
	tr.MaxIdleConnsPerHost = 256
	if o.CAFile != "" {
		pool, err := CAPool(o.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// A redirect would carry the token or the signed body elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// CAPool reads a PEM bundle.
func CAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caFile: no PEM certificate in %s", file)
	}
	return pool, nil
}

// maxRetryAfter caps a pause a target asks for.
const maxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header: delay-seconds or an HTTP-date,
// capped at a day. Zero means none, or none readable.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		const maxSeconds = int64(maxRetryAfter / time.Second)
		return time.Duration(min(n, maxSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
