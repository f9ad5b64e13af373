package webhook

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/deprov/deprov/connector/httpclient"

	"github.com/deprov/deprov/connector"
)

// Setting keys, as written in the configuration file.
const (
	keyURL            = "url"
	keySecret         = "secret"
	keyTimeoutSeconds = "timeoutSeconds"
	keyHeaders        = "headers"
	keyCAFile         = "caFile"
)

// knownKeys are the settings this connector reads; "type" is the block's
// selector and belongs to the config layer.
var knownKeys = []string{"type", keyURL, keySecret, keyTimeoutSeconds, keyHeaders, keyCAFile}

// Defaults and limits.
const (
	defaultTimeout = 30 * time.Second
	maxTimeout     = 10 * time.Minute
)

// reserved are the headers deprov sets itself; configured headers may not
// replace them.
var reserved = []string{"Content-Type", "Content-Length", "Host", "User-Agent", "Connection", "Transfer-Encoding",
	HeaderTimestamp, HeaderSignature, HeaderIdempotencyKey}

// Config is a webhook connector's settings, parsed.
type Config struct {
	// URL receives the POSTs: https, or http on a loopback host.
	URL string
	// Secret is the HMAC-SHA256 key of the Deprov-Signature header.
	Secret string
	// Timeout bounds one request, answer included.
	Timeout time.Duration
	// Headers are sent with every request, such as an Authorization the
	// receiver's gateway wants.
	Headers map[string]string
	// CAFile is a PEM bundle trusted in place of the system roots.
	CAFile string
}

// validate reports every problem in s as "key: what is wrong". Values of
// the form ${...} are references not yet expanded and are only checked to
// be strings.
func validate(s connector.Settings) []error {
	_, errs := parse(s)
	return errs
}

var token = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// parse reads settings, filling defaults, and reports every problem.
func parse(s connector.Settings) (Config, []error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, s.Unknown(knownKeys[1:]...)...)

	cfg := Config{Timeout: defaultTimeout}
	switch v, err := s.String(keyURL); {
	case err != nil:
		bad(keyURL, "%v", err)
	case strings.TrimSpace(v) == "":
		bad(keyURL, "required: the receiver's URL, such as https://hooks.example.com/deprov")
	case connector.IsReference(v):
		cfg.URL = v
	default:
		if err := checkURL(v); err != nil {
			bad(keyURL, "%v", err)
		}
		cfg.URL = strings.TrimSpace(v)
	}

	switch v, err := s.String(keySecret); {
	case err != nil:
		bad(keySecret, "%v", err) // never the value
	case strings.TrimSpace(v) == "":
		bad(keySecret, "required: the HMAC key the receiver verifies Deprov-Signature with")
	default:
		cfg.Secret = v
	}

	if n, ok, err := s.Int(keyTimeoutSeconds); err != nil {
		bad(keyTimeoutSeconds, "%v", err)
	} else if ok {
		if n < 1 || time.Duration(n)*time.Second > maxTimeout {
			bad(keyTimeoutSeconds, "must be between 1 and %d, got %d", int(maxTimeout/time.Second), n)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}

	if v, err := s.String(keyCAFile); err != nil {
		bad(keyCAFile, "%v", err)
	} else {
		cfg.CAFile = strings.TrimSpace(v)
	}

	switch h := s[keyHeaders].(type) {
	case nil:
	case map[string]any, map[string]string:
		cfg.Headers = map[string]string{}
		m := stringMap(h)
		for _, name := range slices.Sorted(maps.Keys(m)) {
			v, key := m[name], keyHeaders+"."+name
			value, ok := v.(string)
			switch {
			case !token.MatchString(name):
				bad(key, "not a header name")
			case slices.ContainsFunc(reserved, func(r string) bool { return strings.EqualFold(r, name) }):
				bad(key, "set by deprov itself")
			case !ok:
				bad(key, "must be a string, got %T", v)
			case strings.ContainsAny(value, "\r\n\x00"):
				bad(key, "must be one line") // never the value: it may be a secret
			default:
				cfg.Headers[http.CanonicalHeaderKey(name)] = value
			}
		}
	default:
		bad(keyHeaders, "must be a map of header names to values, got %T", h)
	}
	return cfg, errs
}

// stringMap reads a YAML or JSON map as name → value.
func stringMap(v any) map[string]any {
	out := map[string]any{}
	switch m := v.(type) {
	case map[string]any:
		for k, v := range m {
			out[k] = v
		}
	case map[string]string:
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// checkURL accepts https, and http only on a loopback host (a receiver on
// the same machine): the body names people and their accounts.
func checkURL(v string) error {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not a URL: %v", errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must start with https://, got %q", v)
	case u.Hostname() == "":
		return fmt.Errorf("has no host: %q", v)
	case u.User != nil:
		return errors.New("must not hold credentials: use headers")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return fmt.Errorf("must use https:// for a host other than this machine's loopback, got %q", u.Hostname())
	}
	return nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpClient builds the client for cfg.
func httpClient(cfg Config) (*http.Client, error) {
	return httpclient.New(httpclient.Options{CAFile: cfg.CAFile, Timeout: cfg.Timeout})
}
