// Package webhook reaches applications that have no standard API through
// an HTTP endpoint of their own: for each action deprov POSTs a signed
// JSON body that names the action and the account, and reads the answer's
// status. The receiver does the work.
//
// A request carries the headers Deprov-Timestamp (Unix seconds),
// Deprov-Signature ("v1=" and the hex HMAC-SHA256 of timestamp + "." +
// body, keyed with the configured secret; see Verify) and Idempotency-Key.
// Answers: 2xx is done; 404, 409 and 410 are "already done" (for enable,
// 404 and 410 mean the account is gone and cannot be enabled); 429 and 5xx
// are retried, honouring Retry-After; any other status fails the action
// with the receiver's message.
//
// A webhook cannot list accounts: the application's accounts come from
// elsewhere (another connector's aggregation, or an import).
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deprov/deprov/account"
	"github.com/deprov/deprov/connector"
)

func init() {
	connector.Register("webhook", connector.Factory{
		Open:     func(s connector.Settings) (connector.Connector, error) { return Open(s) },
		Validate: validate,
		// Header values often carry API keys: never printed back either.
		Secrets: []string{keySecret, keyHeaders},
	})
}

// Capabilities, pinned. There is no Lister, nor GroupAdder: a webhook
// revokes every entitlement at once and cannot add one back.
var (
	_ connector.Disabler = (*Connector)(nil)
	_ connector.Deleter  = (*Connector)(nil)
	_ connector.Revoker  = (*Connector)(nil)
	_ connector.Enabler  = (*Connector)(nil)
	_ connector.Closer   = (*Connector)(nil)
)

// Actions, as the body's "action" names them.
const (
	ActionDisable = "disable"
	ActionDelete  = "delete"
	ActionRevoke  = "revoke"
	ActionEnable  = "enable"
)

// Connector is an open webhook. It is safe for concurrent use.
type Connector struct {
	url     string
	secret  []byte
	headers map[string]string
	client  *http.Client
	now     func() time.Time
}

// Open checks settings (with secrets expanded) and prepares the client. It
// does not contact the receiver.
func Open(s connector.Settings) (*Connector, error) {
	cfg, errs := parse(s)
	if connector.IsReference(cfg.URL) {
		errs = append(errs, errors.New(keyURL+": reference not expanded"))
	}
	for name, v := range cfg.Headers {
		if connector.IsReference(v) {
			errs = append(errs, errors.New(keyHeaders+"."+name+": reference not expanded"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return New(cfg)
}

// New prepares a connector from parsed settings; zero fields take defaults.
func New(cfg Config) (*Connector, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if err := checkURL(cfg.URL); err != nil {
		return nil, errors.New(keyURL + ": " + err.Error())
	}
	if cfg.Secret == "" {
		return nil, errors.New(keySecret + ": required")
	}
	client, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Connector{url: strings.TrimSpace(cfg.URL), secret: []byte(cfg.Secret), headers: cfg.Headers, client: client, now: time.Now}, nil
}

// Close releases idle connections.
func (c *Connector) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

// Disable asks the receiver to turn the account's access off.
func (c *Connector) Disable(ctx context.Context, acct account.Account) (connector.Result, error) {
	return c.send(ctx, ActionDisable, acct)
}

// Delete asks the receiver to remove the account.
func (c *Connector) Delete(ctx context.Context, acct account.Account) (connector.Result, error) {
	return c.send(ctx, ActionDelete, acct)
}

// Revoke asks the receiver to remove every entitlement of the account; the
// body lists the ones deprov knows of.
func (c *Connector) Revoke(ctx context.Context, acct account.Account) (connector.Result, error) {
	return c.send(ctx, ActionRevoke, acct)
}

// Enable asks the receiver to turn the account back on (undo of Disable).
func (c *Connector) Enable(ctx context.Context, acct account.Account) (connector.Result, error) {
	return c.send(ctx, ActionEnable, acct)
}

// WithRevocation returns a context that tells the webhook which revocation
// an action carries out: the body then names the revocation and identity,
// and the idempotency key is "deprov-<id>-<action>". It is
// connector.WithRevocation, which the engine's workers already call, in the
// form a receiver's own tests may find handier.
func WithRevocation(ctx context.Context, id int64, identityID, applicationID string) context.Context {
	return connector.WithRevocation(ctx, connector.Revocation{ID: id, IdentityID: identityID, ApplicationID: applicationID})
}

// Payload is the JSON body of every request.
type Payload struct {
	// Action is disable, delete, revoke or enable.
	Action string `json:"action"`
	// Application is the configured application's id.
	Application string `json:"application,omitempty"`
	// Account is the account to act on.
	Account AccountRef `json:"account"`
	// Identity is the person's key in deprov, when known.
	Identity string `json:"identity,omitempty"`
	// Rule is the rule that planned the revocation, when known.
	Rule string `json:"rule,omitempty"`
	// RevocationID is the revocation carried out, when known.
	RevocationID int64 `json:"revocationId,omitempty"`
	// IdempotencyKey repeats the Idempotency-Key header.
	IdempotencyKey string `json:"idempotencyKey"`
	// Timestamp is the time of sending, RFC 3339 in UTC.
	Timestamp string `json:"timestamp"`
}

// AccountRef names an account in a Payload.
type AccountRef struct {
	// ID is the account's id in the application (account.NativeID).
	ID       string `json:"id"`
	UserName string `json:"userName"`
	Email    string `json:"email,omitempty"`
	// Entitlements are the groups deprov knows the account holds.
	Entitlements []account.Entitlement `json:"entitlements,omitempty"`
}

// payload builds the body of action on acct.
func (c *Connector) payload(ctx context.Context, action string, acct account.Account, now time.Time) Payload {
	p := Payload{
		Action:      action,
		Application: acct.ApplicationID,
		Account:     AccountRef{ID: acct.NativeID, UserName: acct.UserName, Email: acct.Email, Entitlements: acct.Entitlements},
		Identity:    acct.IdentityID,
		Timestamp:   now.UTC().Format(time.RFC3339),
	}
	if r, ok := connector.RevocationFrom(ctx); ok {
		p.RevocationID = r.ID
		p.Rule = r.RuleID
		if r.IdentityID != "" {
			p.Identity = r.IdentityID
		}
		if r.ApplicationID != "" {
			p.Application = r.ApplicationID
		}
	}
	p.IdempotencyKey = idempotencyKey(p)
	return p
}

// idempotencyKey is "deprov-<revocation>-<action>" when the revocation is
// known; else a hash of the action, application and account, the same for
// every attempt.
func idempotencyKey(p Payload) string {
	if p.RevocationID > 0 {
		return "deprov-" + strconv.FormatInt(p.RevocationID, 10) + "-" + p.Action
	}
	h := sha256.New()
	for _, s := range []string{p.Action, p.Application, p.Account.ID, p.Account.UserName} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "deprov-" + hex.EncodeToString(h.Sum(nil))[:32]
}
