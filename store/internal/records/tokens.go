package records

import (
	"errors"
	"fmt"
	"time"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/store"
)

// NewToken checks the token CreateToken is given and returns it as the
// stores keep it: its times kept, CreatedAt now when zero.
func NewToken(t *store.Token, now time.Time) (store.Token, error) {
	if t == nil {
		return store.Token{}, errors.New("create token: no token")
	}
	if t.Hash == "" {
		return store.Token{}, fmt.Errorf("create token %q: empty hash", t.Name)
	}
	tok := *t
	tok.CreatedAt = KeptTime(tok.CreatedAt, now)
	tok.LastUsed = KeptTime(tok.LastUsed, time.Time{})
	tok.RevokedAt = KeptTime(tok.RevokedAt, time.Time{})
	return tok, nil
}

// ErrTokenExists is CreateToken's error for a hash already stored.
var ErrTokenExists = fmt.Errorf("a token with this hash exists: %w", store.ErrConflict)

// TokenEvent is CreateToken's ev with the token's id in its Detail (the
// caller cannot know it).
func TokenEvent(ev audit.Event, id int64) audit.Event {
	return WithDetail(ev, map[string]any{"tokenId": id})
}
