package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/deprov/deprov/store"
)

var tokenTests = []test{
	{"Create", testCreateToken},
	{"ByHash", testTokenByHash},
	{"List", testListTokens},
	{"Revoke", testRevokeToken},
	{"Touch", testTouchToken},
	{"Atomic", testTokenAtomic},
}

func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func createToken(t *testing.T, s store.Store, name string, role store.Role) store.Token {
	t.Helper()
	tok := store.Token{Name: name, Role: role, Hash: hashOf("secret-" + name), CreatedBy: "cli:root"}
	must(t, s.CreateToken(t.Context(), &tok, event("token.created")))
	return tok
}

// testCreateToken: CreateToken assigns the id, stamps a zero CreatedAt
// with the store's clock, names the id in its event, and refuses a hash
// already stored with ErrConflict.
func testCreateToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createToken(t, s, "ci", store.RoleOperator)
	if a.ID <= 0 {
		t.Fatalf("token id %d", a.ID)
	}
	kept(t, "CreatedAt", a.CreatedAt)
	ev := lastEvent(t, s)
	equal(t, "event", ev.Action, "token.created")
	equal(t, "event names the token", int64(detailInt(t, ev, "tokenId")), a.ID)

	b := store.Token{Name: "audit", Role: store.RoleAuditor, Hash: hashOf("b"), CreatedAt: t0, CreatedBy: "api:alice"}
	must(t, s.CreateToken(ctx, &b, event("token.created")))
	if b.ID <= a.ID {
		t.Fatalf("second token id %d, want after %d", b.ID, a.ID)
	}
	equal(t, "given CreatedAt kept", b.CreatedAt, at(0))

	events := auditLen(t, s)
	dup := store.Token{Name: "other", Role: store.RoleAdmin, Hash: a.Hash, CreatedBy: "x"}
	wantErr(t, s.CreateToken(ctx, &dup, event("token.created")), store.ErrConflict, "CreateToken with a stored hash")
	equal(t, "id left unset", dup.ID, int64(0))
	equal(t, "events after conflict", auditLen(t, s), events)
	toks, err := s.ListTokens(ctx)
	must(t, err)
	equal(t, "tokens after conflict", len(toks), 2)
}

// testTokenByHash: finds unrevoked tokens only.
func testTokenByHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createToken(t, s, "ci", store.RoleOperator)
	b := createToken(t, s, "admin", store.RoleAdmin)
	got, err := s.TokenByHash(ctx, a.Hash)
	must(t, err)
	equal(t, "token", got, a)
	_, err = s.TokenByHash(ctx, hashOf("never issued"))
	wantErr(t, err, store.ErrNotFound, "TokenByHash of an unknown hash")
	_, err = s.TokenByHash(ctx, "")
	wantErr(t, err, store.ErrNotFound, "TokenByHash of an empty hash")

	must(t, s.RevokeToken(ctx, a.ID, event("token.revoked")))
	_, err = s.TokenByHash(ctx, a.Hash)
	wantErr(t, err, store.ErrNotFound, "TokenByHash of a revoked token")
	got, err = s.TokenByHash(ctx, b.Hash)
	must(t, err)
	equal(t, "other token", got, b)
}

// testListTokens: every token by id, revoked included, with its hash.
func testListTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	toks, err := s.ListTokens(ctx)
	must(t, err)
	equal(t, "no tokens", len(toks), 0)
	a := createToken(t, s, "ci", store.RoleOperator)
	b := createToken(t, s, "admin", store.RoleAdmin)
	c := createToken(t, s, "audit", store.RoleAuditor)
	must(t, s.RevokeToken(ctx, b.ID, event("token.revoked")))
	toks, err = s.ListTokens(ctx)
	must(t, err)
	equal(t, "listed", len(toks), 3)
	kept(t, "RevokedAt", toks[1].RevokedAt)
	b.RevokedAt = toks[1].RevokedAt
	equal(t, "tokens", toks, []store.Token{a, b, c})
}

// testRevokeToken: revoking is once (ErrConflict after, nothing changes),
// and a missing token is ErrNotFound.
func testRevokeToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createToken(t, s, "ci", store.RoleOperator)
	must(t, s.RevokeToken(ctx, a.ID, event("token.revoked")))
	ev := lastEvent(t, s)
	equal(t, "event", ev.Action, "token.revoked")
	toks, err := s.ListTokens(ctx)
	must(t, err)
	revokedAt := toks[0].RevokedAt
	kept(t, "RevokedAt", revokedAt)

	events := auditLen(t, s)
	wantErr(t, s.RevokeToken(ctx, a.ID, event("token.revoked")), store.ErrConflict, "RevokeToken of a revoked token")
	equal(t, "events after second revoke", auditLen(t, s), events)
	toks, err = s.ListTokens(ctx)
	must(t, err)
	equal(t, "RevokedAt after second revoke", toks[0].RevokedAt, revokedAt)

	wantErr(t, s.RevokeToken(ctx, 4711, event("token.revoked")), store.ErrNotFound, "RevokeToken of a missing id")
	equal(t, "events after missing", auditLen(t, s), events)
}

// testTouchToken: records the last use at microseconds, never moving it
// back; appends no event; a missing token is ErrNotFound.
func testTouchToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createToken(t, s, "ci", store.RoleOperator)
	events := auditLen(t, s)
	must(t, s.TouchToken(ctx, a.ID, t0.Add(time.Hour)))
	got, err := s.TokenByHash(ctx, a.Hash)
	must(t, err)
	equal(t, "LastUsed", got.LastUsed, at(time.Hour))
	must(t, s.TouchToken(ctx, a.ID, t0)) // an earlier use reported late
	got, err = s.TokenByHash(ctx, a.Hash)
	must(t, err)
	equal(t, "LastUsed after an earlier touch", got.LastUsed, at(time.Hour))
	must(t, s.TouchToken(ctx, a.ID, t0.Add(2*time.Hour).In(time.FixedZone("X", 7200))))
	got, err = s.TokenByHash(ctx, a.Hash)
	must(t, err)
	equal(t, "LastUsed after a later touch", got.LastUsed, at(2*time.Hour))
	equal(t, "no events", auditLen(t, s), events)
	wantErr(t, s.TouchToken(ctx, 4711, t0), store.ErrNotFound, "TouchToken of a missing id")
}

func testTokenAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := store.Token{Name: "ci", Role: store.RoleOperator, Hash: hashOf("x"), CreatedBy: "cli:root"}
	if err := s.CreateToken(ctx, &tok, unmarshalable("token.created")); err == nil {
		t.Fatal("CreateToken with an event that cannot be stored succeeded")
	}
	equal(t, "id left unset", tok.ID, int64(0))
	_, err := s.TokenByHash(ctx, tok.Hash)
	wantErr(t, err, store.ErrNotFound, "TokenByHash after a failed create")

	a := createToken(t, s, "ci", store.RoleOperator)
	if err := s.RevokeToken(ctx, a.ID, unmarshalable("token.revoked")); err == nil {
		t.Fatal("RevokeToken with an event that cannot be stored succeeded")
	}
	_, err = s.TokenByHash(ctx, a.Hash)
	must(t, err)
}

var settingTests = []test{
	{"Unset", testSettingUnset},
	{"PutIfAbsent", testPutSettingIfAbsent},
	{"PutIfAbsentConcurrent", testPutSettingConcurrent},
}

func testSettingUnset(t *testing.T, s store.Store) {
	_, err := s.Setting(t.Context(), "session.key")
	wantErr(t, err, store.ErrNotFound, "Setting of an unset key")
}

// testPutSettingIfAbsent: the first value stays; later calls return it.
func testPutSettingIfAbsent(t *testing.T, s store.Store) {
	ctx := t.Context()
	events := auditLen(t, s)
	v, err := s.PutSettingIfAbsent(ctx, "session.key", "first")
	must(t, err)
	equal(t, "first put", v, "first")
	v, err = s.PutSettingIfAbsent(ctx, "session.key", "second")
	must(t, err)
	equal(t, "second put returns the first value", v, "first")
	v, err = s.Setting(ctx, "session.key")
	must(t, err)
	equal(t, "stored", v, "first")

	v, err = s.PutSettingIfAbsent(ctx, "other", "")
	must(t, err)
	equal(t, "empty value", v, "")
	v, err = s.Setting(ctx, "other")
	must(t, err)
	equal(t, "empty value is set", v, "")
	equal(t, "no events", auditLen(t, s), events)
}

// testPutSettingConcurrent: nodes starting at once all get one value.
func testPutSettingConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers = 8
	got := make([]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			got[i], errs[i] = s.PutSettingIfAbsent(ctx, "session.key", string(rune('a'+i)))
		})
	}
	wg.Wait()
	for i := range workers {
		must(t, errs[i])
		equal(t, "value", got[i], got[0])
	}
	v, err := s.Setting(ctx, "session.key")
	must(t, err)
	equal(t, "stored", v, got[0])
}
