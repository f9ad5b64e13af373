package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/connector"
)

// Setting keys, as written in the configuration file.
const (
	keyURL                = "url"
	keyBindDN             = "bindDN"
	keyBindPassword       = "bindPassword"
	keyBaseDN             = "baseDN"
	keyUserFilter         = "userFilter"
	keyUserAttribute      = "userAttribute"
	keyGroupBaseDN        = "groupBaseDN"
	keyGroupFilter        = "groupFilter"
	keyMemberAttribute    = "memberAttribute"
	keyDisableMode        = "disableMode"
	keyDisabledDN         = "disabledDN"
	keyStartTLS           = "startTLS"
	keyCAFile             = "caFile"
	keyInsecureSkipVerify = "insecureSkipVerify"
	keyTimeoutSeconds     = "timeoutSeconds"
	keyPageSize           = "pageSize"
)

// knownKeys are the settings this connector reads; "type" is the block's
// selector and belongs to the config layer.
var knownKeys = []string{"type", keyURL, keyBindDN, keyBindPassword, keyBaseDN, keyUserFilter, keyUserAttribute,
	keyGroupBaseDN, keyGroupFilter, keyMemberAttribute, keyDisableMode, keyDisabledDN, keyStartTLS, keyCAFile,
	keyInsecureSkipVerify, keyTimeoutSeconds, keyPageSize}

// Defaults and limits.
const (
	defaultUserFilter      = "(objectClass=inetOrgPerson)"
	defaultUserAttribute   = "uid"
	defaultGroupFilter     = "(objectClass=groupOfNames)"
	defaultMemberAttribute = "member"
	defaultPageSize        = 500
	maxPageSize            = 5000
	defaultTimeout         = 30 * time.Second
	maxTimeout             = 10 * time.Minute
)

// DisableMode is how Disable turns an account off.
type DisableMode string

// Disable modes.
const (
	// Lock sets the ppolicy operational attribute pwdAccountLockedTime to
	// 000001010000Z, which locks the account until an administrator
	// removes it: binds fail with invalidCredentials (49).
	Lock DisableMode = "lock"
	// Move renames the entry under DisabledDN, out of the tree that
	// applications search for users.
	Move DisableMode = "move"
)

// Config is an LDAP connector's settings, parsed.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string
	// BindDN is the service account deprov binds as.
	BindDN string
	// BindPassword is BindDN's password.
	BindPassword string
	// BaseDN is where users are searched (whole subtree).
	BaseDN string
	// UserFilter selects user entries; default (objectClass=inetOrgPerson).
	UserFilter string
	// UserAttribute holds an account's userName; default uid.
	UserAttribute string
	// GroupBaseDN is where groups are searched; default BaseDN.
	GroupBaseDN string
	// GroupFilter selects groups; default (objectClass=groupOfNames).
	GroupFilter string
	// MemberAttribute holds a group's member DNs; default member.
	MemberAttribute string
	// DisableMode is lock (default) or move.
	DisableMode DisableMode
	// DisabledDN is where move puts disabled accounts (required for move).
	// Entries under it are listed as disabled in either mode.
	DisabledDN string
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool
	// CAFile is a PEM bundle trusted in place of the system roots.
	CAFile string
	// InsecureSkipVerify turns TLS certificate checks off (test targets only).
	InsecureSkipVerify bool
	// Timeout bounds connecting and each LDAP request.
	Timeout time.Duration
	// PageSize is the simple paged results size for searches.
	PageSize int
}

// withDefaults fills zero fields.
func (cfg Config) withDefaults() Config {
	if cfg.UserFilter == "" {
		cfg.UserFilter = defaultUserFilter
	}
	if cfg.UserAttribute == "" {
		cfg.UserAttribute = defaultUserAttribute
	}
	if cfg.GroupBaseDN == "" {
		cfg.GroupBaseDN = cfg.BaseDN
	}
	if cfg.GroupFilter == "" {
		cfg.GroupFilter = defaultGroupFilter
	}
	if cfg.MemberAttribute == "" {
		cfg.MemberAttribute = defaultMemberAttribute
	}
	if cfg.DisableMode == "" {
		cfg.DisableMode = Lock
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = defaultPageSize
	}
	return cfg
}

// validate reports every problem in s as "key: what is wrong". Values of
// the form ${...} are references not yet expanded and are only checked to
// be strings.
func validate(s connector.Settings) []error {
	_, errs := parse(s)
	return errs
}

var attrName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`)

// parse reads settings, filling defaults, and reports every problem.
func parse(s connector.Settings) (Config, []error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	errs = append(errs, s.Unknown(knownKeys[1:]...)...)

	var cfg Config
	text := func(key string) string {
		v, err := s.String(key)
		if err != nil {
			bad(key, "%v", err)
		}
		return v
	}
	dn := func(key string, required string) string {
		v := text(key)
		switch {
		case strings.TrimSpace(v) == "" && required != "":
			bad(key, "required: %s", required)
		case v == "" || connector.IsReference(v):
		default:
			if _, err := goldap.ParseDN(v); err != nil {
				bad(key, "not a DN: %v", err)
			}
		}
		return strings.TrimSpace(v)
	}
	filter := func(key, def string) string {
		v := strings.TrimSpace(text(key))
		if v == "" {
			return def
		}
		if !connector.IsReference(v) {
			if !strings.HasPrefix(v, "(") {
				bad(key, "must be in parentheses, such as %s", def)
			} else if _, err := goldap.CompileFilter(v); err != nil {
				if inner := errors.Unwrap(err); inner != nil {
					err = inner
				}
				bad(key, "not an LDAP filter: %s", strings.TrimPrefix(err.Error(), "ldap: "))
			}
		}
		return v
	}
	attribute := func(key, def string) string {
		v := strings.TrimSpace(text(key))
		if v == "" {
			return def
		}
		if !connector.IsReference(v) && !attrName.MatchString(v) {
			bad(key, "not an attribute name: %q", v)
		}
		return v
	}

	cfg.URL = strings.TrimSpace(text(keyURL))
	var u *url.URL
	switch {
	case cfg.URL == "":
		bad(keyURL, "required: the directory's URL, such as ldaps://ldap.example.com")
	case connector.IsReference(cfg.URL):
	default:
		var err error
		if u, err = checkURL(cfg.URL); err != nil {
			bad(keyURL, "%v", err)
		}
	}

	cfg.BindDN = dn(keyBindDN, "the DN deprov binds as, such as cn=deprov,ou=services,dc=example,dc=com")
	switch v, err := s.String(keyBindPassword); {
	case err != nil:
		bad(keyBindPassword, "%v", err) // never the value: it is a secret
	case strings.TrimSpace(v) == "":
		bad(keyBindPassword, "required: the password of bindDN")
	default:
		cfg.BindPassword = v
	}
	cfg.BaseDN = dn(keyBaseDN, "where users are, such as ou=people,dc=example,dc=com")
	cfg.UserFilter = filter(keyUserFilter, defaultUserFilter)
	cfg.UserAttribute = attribute(keyUserAttribute, defaultUserAttribute)
	cfg.GroupBaseDN = dn(keyGroupBaseDN, "")
	cfg.GroupFilter = filter(keyGroupFilter, defaultGroupFilter)
	cfg.MemberAttribute = attribute(keyMemberAttribute, defaultMemberAttribute)
	if strings.EqualFold(cfg.MemberAttribute, "memberUid") {
		bad(keyMemberAttribute, "memberUid holds user names, not DNs: use a DN-valued attribute such as member or uniqueMember")
	}

	switch mode := DisableMode(strings.TrimSpace(text(keyDisableMode))); mode {
	case "", Lock:
		cfg.DisableMode = Lock
	case Move:
		cfg.DisableMode = Move
	default:
		if !connector.IsReference(string(mode)) {
			bad(keyDisableMode, "must be lock or move, got %q", mode)
		}
	}
	required := ""
	if cfg.DisableMode == Move {
		required = "where disableMode move puts disabled accounts, such as ou=disabled,dc=example,dc=com"
	}
	cfg.DisabledDN = dn(keyDisabledDN, required)
	if cfg.DisabledDN != "" && cfg.BaseDN != "" && sameDN(cfg.DisabledDN, cfg.BaseDN) {
		bad(keyDisabledDN, "must differ from baseDN: a move there would change nothing")
	}

	flag := func(key string) bool {
		b, _, err := s.Bool(key)
		if err != nil {
			bad(key, "%v", err)
		}
		return b
	}
	cfg.StartTLS = flag(keyStartTLS)
	cfg.InsecureSkipVerify = flag(keyInsecureSkipVerify)
	cfg.CAFile = strings.TrimSpace(text(keyCAFile))
	if u != nil {
		tlsUsed := u.Scheme == "ldaps" || cfg.StartTLS
		switch {
		case u.Scheme == "ldaps" && cfg.StartTLS:
			bad(keyStartTLS, "cannot be true with ldaps:// (the connection is TLS already)")
		case !tlsUsed && cfg.CAFile != "":
			bad(keyCAFile, "only used with ldaps:// or startTLS: true")
		case !tlsUsed && cfg.InsecureSkipVerify:
			bad(keyInsecureSkipVerify, "only used with ldaps:// or startTLS: true")
		}
	}
	if cfg.InsecureSkipVerify && cfg.CAFile != "" {
		bad(keyInsecureSkipVerify, "cannot be true together with %s: trust the CA instead", keyCAFile)
	}

	cfg.Timeout = defaultTimeout
	if n, ok, err := s.Int(keyTimeoutSeconds); err != nil {
		bad(keyTimeoutSeconds, "%v", err)
	} else if ok {
		if n < 1 || time.Duration(n)*time.Second > maxTimeout {
			bad(keyTimeoutSeconds, "must be between 1 and %d, got %d", int(maxTimeout/time.Second), n)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}
	cfg.PageSize = defaultPageSize
	if n, ok, err := s.Int(keyPageSize); err != nil {
		bad(keyPageSize, "%v", err)
	} else if ok {
		if n < 1 || n > maxPageSize {
			bad(keyPageSize, "must be between 1 and %d, got %d", maxPageSize, n)
		}
		cfg.PageSize = n
	}
	return cfg.withDefaults(), errs
}

// checkURL accepts ldap:// and ldaps:// with a host and nothing after it.
func checkURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %v", errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return nil, fmt.Errorf("must start with ldap:// or ldaps://, got %q", v)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("has no host: %q", v)
	case u.User != nil:
		return nil, errors.New("must not hold credentials: use bindDN and bindPassword")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("must be only scheme, host and port, such as ldaps://ldap.example.com:636: put the base DN in baseDN")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad port %q", p)
		}
	}
	return u, nil
}

// address is host:port, with the scheme's default port.
func address(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// tlsConfig builds the TLS settings for LDAPS and StartTLS.
func tlsConfig(cfg Config, host string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", keyCAFile, cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
