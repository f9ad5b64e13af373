package bench

import (
	"testing"
	"time"

	"github.com/deprov/deprov/internal/testdb"
)

// revokeAll revokes every id through deprov on a fresh SQLite store.
func revokeAll(tb testing.TB, url, token string, ids []string, alloc int, timeout time.Duration) Result {
	tb.Helper()
	return RevokeAll(tb, testdb.SQLite(tb, tb.TempDir(), nil), RigOptions{URL: url, Token: token, NativeIDs: ids, Alloc: alloc}, timeout)
}
