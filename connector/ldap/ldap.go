// Package ldap connects deprov to an LDAP directory (OpenLDAP, 389-DS and
// the like) with github.com/go-ldap/ldap/v3: it lists the users under a base
// DN with their group memberships, disables them by a ppolicy lock or by a
// move under a disabled OU, deletes them, removes them from their groups,
// and undoes disable and revoke.
//
// Every action is idempotent: doing it again, or on an entry that is gone,
// succeeds with Result.AlreadyDone. The connector holds one connection,
// bound as the service account, shared by all callers and re-established
// when it breaks.
package ldap

import (
	"crypto/tls"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/deprov/deprov/connector"
)

func init() {
	connector.Register("ldap", connector.Factory{
		Open:     func(s connector.Settings) (connector.Connector, error) { return Open(s) },
		Validate: validate,
		Secrets:  []string{keyBindPassword},
		Lists:    true,
	})
}

// Capabilities, pinned.
var (
	_ connector.Lister     = (*Connector)(nil)
	_ connector.Disabler   = (*Connector)(nil)
	_ connector.Deleter    = (*Connector)(nil)
	_ connector.Revoker    = (*Connector)(nil)
	_ connector.Enabler    = (*Connector)(nil)
	_ connector.GroupAdder = (*Connector)(nil)
	_ connector.Closer     = (*Connector)(nil)
)

// Connector is an open LDAP directory. It is safe for concurrent use.
type Connector struct {
	cfg    Config
	addr   string // host:port
	ldaps  bool
	tlsCfg *tls.Config

	mu   sync.Mutex
	conn *goldap.Conn // nil until first use and after a failure
	// setupErr is the last final failure to connect and bind, at setupAt.
	setupErr error
	setupAt  time.Time
	now      func() time.Time
}

// Open checks settings (with secrets expanded) and prepares the connector.
// It does not contact the directory: the first action does.
func Open(s connector.Settings) (*Connector, error) {
	cfg, errs := parse(s)
	for _, k := range []string{keyURL, keyBindDN, keyBaseDN, keyGroupBaseDN, keyDisabledDN, keyUserFilter, keyGroupFilter, keyCAFile} {
		if v, _ := s[k].(string); connector.IsReference(v) {
			errs = append(errs, errors.New(k+": reference not expanded"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return New(cfg)
}

// New prepares a connector from parsed settings; zero fields take defaults.
func New(cfg Config) (*Connector, error) {
	cfg = cfg.withDefaults()
	u, err := checkURL(cfg.URL)
	if err != nil {
		return nil, errors.New(keyURL + ": " + err.Error())
	}
	tc, err := tlsConfig(cfg, u.Hostname())
	if err != nil {
		return nil, err
	}
	return &Connector{cfg: cfg, addr: address(u), ldaps: u.Scheme == "ldaps", tlsCfg: tc, now: time.Now}, nil
}

// Close closes the connection; a later action opens a new one.
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	return nil
}

// host is the directory's address for messages: never credentials.
func (c *Connector) host() string {
	scheme := "ldap"
	if c.ldaps {
		scheme = "ldaps"
	}
	return (&url.URL{Scheme: scheme, Host: c.addr}).String()
}

// userBases are the subtrees listed: baseDN, and disabledDN when it lies
// outside it, so that accounts moved there are still seen (as disabled).
func (c *Connector) userBases() []string {
	bases := []string{c.cfg.BaseDN}
	if c.cfg.DisabledDN != "" && !within(c.cfg.DisabledDN, c.cfg.BaseDN) && !under(c.cfg.BaseDN, c.cfg.DisabledDN) {
		bases = append(bases, c.cfg.DisabledDN)
	}
	return bases
}

func name(userName, dn string) string {
	if userName != "" {
		return userName
	}
	if strings.TrimSpace(dn) != "" {
		return dn
	}
	return "(account without name)"
}
