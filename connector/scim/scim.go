// Package scim connects deprov to applications that speak SCIM 2.0
// (RFC 7643/7644) as service providers: it lists their users and groups,
// and disables, deletes, re-enables users and removes their group
// memberships, all over plain net/http with a bearer token.
//
// Every action is idempotent: doing it again, or on an account that is
// gone, succeeds with Result.AlreadyDone.
package scim

import (
	"cmp"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/deprov/deprov/connector"
)

func init() {
	connector.Register("scim", connector.Factory{
		Open:     func(s connector.Settings) (connector.Connector, error) { return Open(s) },
		Validate: validate,
		Secrets:  []string{keyToken},
		Lists:    true,
	})
}

// Capabilities, pinned.
var (
	_ connector.Lister   = (*Connector)(nil)
	_ connector.Disabler = (*Connector)(nil)
	_ connector.Deleter  = (*Connector)(nil)
	_ connector.Revoker  = (*Connector)(nil)
	_ connector.Closer   = (*Connector)(nil)
	// Undo capabilities.
	_ connector.Enabler    = (*Connector)(nil)
	_ connector.GroupAdder = (*Connector)(nil)
)

// Connector is an open SCIM service provider. It is safe for concurrent use.
type Connector struct {
	base     string // SCIM base URL without a trailing slash
	token    string
	pageSize int
	client   *http.Client
	now      func() time.Time // reads Retry-After dates
}

// Open checks settings (with secrets expanded) and prepares the client. It
// does not contact the target.
func Open(s connector.Settings) (*Connector, error) {
	cfg, errs := parse(s)
	if cfg.URL != "" && connector.IsReference(cfg.URL) {
		errs = append(errs, errors.New(keyURL+": reference not expanded"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return New(cfg)
}

// New prepares a connector from parsed settings; zero fields take defaults.
func New(cfg Config) (*Connector, error) {
	cfg.PageSize = cmp.Or(cfg.PageSize, defaultPageSize)
	cfg.Timeout = cmp.Or(cfg.Timeout, defaultTimeout)
	if err := checkURL(cfg.URL); err != nil {
		return nil, errors.New(keyURL + ": " + err.Error())
	}
	client, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Connector{
		base:     strings.TrimRight(cfg.URL, "/"),
		token:    cfg.Token,
		pageSize: cfg.PageSize,
		client:   client,
		now:      time.Now,
	}, nil
}

// Close releases idle connections.
func (c *Connector) Close() error {
	c.client.CloseIdleConnections()
	return nil
}
