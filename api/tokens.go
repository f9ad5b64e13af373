package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store"
)

// TokenPrefix starts every token secret deprov generates, so that one is
// recognisable in a secret scanner.
const TokenPrefix = "dpv_"

// minBootstrapLen is the shortest DEPROV_ADMIN_TOKEN accepted.
const minBootstrapLen = 20

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

// NewTokenSecret returns a fresh token secret: "dpv_" and 32 random bytes.
func NewTokenSecret() (string, error) {
	b, err := randomBytes(32)
	if err != nil {
		return "", err
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is what the store keeps of a secret: its SHA-256, in hex.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseRole reads a role name; anything else is invalid input.
func ParseRole(s string) (store.Role, error) {
	switch r := store.Role(s); r {
	case store.RoleAdmin, store.RoleOperator, store.RoleAuditor:
		return r, nil
	}
	return "", fmt.Errorf("%w: role %q: want admin, operator or auditor", engine.ErrInvalid, s)
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CreatedToken is a new token with its secret, which is shown this once.
type CreatedToken struct {
	Token store.Token `json:"token"`
	// Secret is the bearer token; only its hash is stored.
	Secret string `json:"secret"`
}

// CreateToken makes an API token of a role, stores its hash with an audit
// event by actor, and returns the secret. A bad name or role is invalid
// input (engine.ErrInvalid).
func CreateToken(ctx context.Context, st store.Store, name string, role store.Role, actor string) (CreatedToken, error) {
	secret, err := NewTokenSecret()
	if err != nil {
		return CreatedToken{}, err
	}
	return storeToken(ctx, st, name, role, secret, actor, "")
}

func storeToken(ctx context.Context, st store.Store, name string, role store.Role, secret, actor, why string) (CreatedToken, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return CreatedToken{}, err
	}
	if !tokenName.MatchString(name) {
		return CreatedToken{}, fmt.Errorf("%w: token name %q: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", engine.ErrInvalid, name)
	}
	t := store.Token{Name: name, Role: role, Hash: HashToken(secret), CreatedBy: actor}
	ev := audit.Event{Actor: actor, Action: "token.created",
		Message: fmt.Sprintf("%s token %q created by %s%s", role, name, actor, why),
		Detail:  map[string]any{"name": name, "role": string(role)}}
	if err := st.CreateToken(ctx, &t, ev); err != nil {
		return CreatedToken{}, fmt.Errorf("create token %q: %w", name, err)
	}
	return CreatedToken{Token: t, Secret: secret}, nil
}

// RevokeToken revokes a token, with an audit event by actor. An unknown id
// is store.ErrNotFound, a revoked one store.ErrConflict.
func RevokeToken(ctx context.Context, st store.Store, id int64, actor string) (store.Token, error) {
	ts, err := st.ListTokens(ctx)
	if err != nil {
		return store.Token{}, err
	}
	for _, t := range ts {
		if t.ID != id {
			continue
		}
		ev := audit.Event{Actor: actor, Action: "token.revoked",
			Message: fmt.Sprintf("%s token %q revoked by %s", t.Role, t.Name, actor),
			Detail:  map[string]any{"tokenId": t.ID, "name": t.Name, "role": string(t.Role)}}
		if err := st.RevokeToken(ctx, id, ev); err != nil {
			return t, fmt.Errorf("revoke token %d: %w", id, err)
		}
		ts, err := st.ListTokens(ctx)
		if err != nil {
			return t, err
		}
		for _, u := range ts {
			if u.ID == id {
				return u, nil
			}
		}
		return t, nil
	}
	return store.Token{}, fmt.Errorf("token %d: %w", id, store.ErrNotFound)
}

// bootstrap makes sure someone can administer a fresh installation. A
// DEPROV_ADMIN_TOKEN becomes an admin token when no active admin token
// exists; otherwise, when the store has no token at all, one is generated
// and logged once.
func (a *API) bootstrap(ctx context.Context, secret string) error {
	ts, err := a.st.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("api: list tokens: %w", err)
	}
	activeAdmin := false
	for _, t := range ts {
		if t.Role == store.RoleAdmin && t.RevokedAt.IsZero() {
			activeAdmin = true
		}
	}
	if secret != "" {
		if len(secret) < minBootstrapLen {
			return fmt.Errorf("api: %s must be at least %d characters", BootstrapTokenEnv, minBootstrapLen)
		}
		t, err := a.st.TokenByHash(ctx, HashToken(secret))
		switch {
		case err == nil:
			if t.Role != store.RoleAdmin {
				a.log.Warn(BootstrapTokenEnv+" is a token of role "+string(t.Role)+", not admin; it stays as it is", "token", t.Name)
			}
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("api: look up %s: %w", BootstrapTokenEnv, err)
		case activeAdmin:
			a.log.Warn(BootstrapTokenEnv + " is ignored: an admin token exists already (create more with `deprov tokens create --role admin`)")
			return nil
		}
		if _, err := storeToken(ctx, a.st, "bootstrap-admin", store.RoleAdmin, secret, "system", " from "+BootstrapTokenEnv); err != nil {
			return fmt.Errorf("api: store %s: %w", BootstrapTokenEnv, err)
		}
		a.log.Info("admin token taken from " + BootstrapTokenEnv)
		return nil
	}
	if len(ts) > 0 {
		return nil
	}
	secret, err = NewTokenSecret()
	if err != nil {
		return err
	}
	if _, err := storeToken(ctx, a.st, "first-admin", store.RoleAdmin, secret, "system", " on first start"); err != nil {
		return fmt.Errorf("api: first admin token: %w", err)
	}
	a.log.Warn("first admin token (shown once): "+secret+" — keep it in a password manager; "+
		"create others with `deprov tokens create`, then revoke this one",
		"token", "first-admin")
	return nil
}
