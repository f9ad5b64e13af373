package scim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deprov/deprov/connector/httpclient"

	"github.com/deprov/deprov/connector"
)

// Setting keys, as written in the configuration file.
const (
	keyURL                = "url"
	keyToken              = "token"
	keyPageSize           = "pageSize"
	keyTimeoutSeconds     = "timeoutSeconds"
	keyInsecureSkipVerify = "insecureSkipVerify"
	keyCAFile             = "caFile"
)

// knownKeys are the settings this connector reads; "type" is the block's
// selector and belongs to the config layer.
var knownKeys = []string{"type", keyURL, keyToken, keyPageSize, keyTimeoutSeconds, keyInsecureSkipVerify, keyCAFile}

// Defaults and limits.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	defaultTimeout  = 30 * time.Second
	maxTimeout      = 10 * time.Minute
)

// Config is a SCIM connector's settings, parsed.
type Config struct {
	// URL is the SCIM base URL, such as https://app.example.com/scim/v2.
	URL string
	// Token is the bearer token sent on every request.
	Token string
	// PageSize is how many resources one list request asks for (1–1000).
	PageSize int
	// Timeout bounds one HTTP request, answer included.
	Timeout time.Duration
	// InsecureSkipVerify turns TLS certificate checks off (test targets only).
	InsecureSkipVerify bool
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

// parse reads settings, filling defaults, and reports every problem.
func parse(s connector.Settings) (Config, []error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	errs = append(errs, s.Unknown(knownKeys[1:]...)...)

	cfg := Config{PageSize: defaultPageSize, Timeout: defaultTimeout}

	switch v, err := s.String(keyURL); {
	case err != nil:
		bad(keyURL, "%v", err)
	case v == "":
		bad(keyURL, "required: the SCIM base URL, such as https://app.example.com/scim/v2")
	case connector.IsReference(v):
		cfg.URL = v
	default:
		if err := checkURL(v); err != nil {
			bad(keyURL, "%v", err)
		}
		cfg.URL = strings.TrimRight(v, "/")
	}

	switch v, err := s.String(keyToken); {
	case err != nil:
		bad(keyToken, "%v", err) // never the value: it is a secret
	case strings.TrimSpace(v) == "":
		bad(keyToken, "required: the bearer token the application issued")
	default:
		cfg.Token = v
	}

	if n, ok, err := s.Int(keyPageSize); err != nil {
		bad(keyPageSize, "%v", err)
	} else if ok {
		if n < 1 || n > maxPageSize {
			bad(keyPageSize, "must be between 1 and %d, got %d", maxPageSize, n)
		}
		cfg.PageSize = n
	}

	if n, ok, err := s.Int(keyTimeoutSeconds); err != nil {
		bad(keyTimeoutSeconds, "%v", err)
	} else if ok {
		if n < 1 || time.Duration(n)*time.Second > maxTimeout {
			bad(keyTimeoutSeconds, "must be between 1 and %d, got %d", int(maxTimeout/time.Second), n)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}

	if b, _, err := s.Bool(keyInsecureSkipVerify); err != nil {
		bad(keyInsecureSkipVerify, "%v", err)
	} else {
		cfg.InsecureSkipVerify = b
	}

	if v, err := s.String(keyCAFile); err != nil {
		bad(keyCAFile, "%v", err)
	} else {
		cfg.CAFile = v
	}
	if cfg.InsecureSkipVerify && cfg.CAFile != "" {
		bad(keyInsecureSkipVerify, "cannot be true together with %s: trust the CA instead", keyCAFile)
	}
	return cfg, errs
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("not a URL: %v", errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must start with http:// or https://, got %q", v)
	case u.Host == "":
		return fmt.Errorf("has no host: %q", v)
	case u.User != nil:
		return errors.New("must not hold credentials: put the bearer token in token")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment: give the SCIM base URL, such as https://app.example.com/scim/v2")
	}
	return nil
}

// httpClient builds the client for cfg.
func httpClient(cfg Config) (*http.Client, error) {
	return httpclient.New(httpclient.Options{CAFile: cfg.CAFile, InsecureSkipVerify: cfg.InsecureSkipVerify, Timeout: cfg.Timeout})
}
