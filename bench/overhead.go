package bench

import (
	"testing"
	"time"

	"github.com/deprov/deprov/store"
)

// OverheadAlloc is the allocation size of the overhead figures: enough
// workers that an instant target never waits for deprov to ask.
const OverheadAlloc = 32

// Overhead revokes n leavers (among other more accounts of the
// application) through deprov against a fake target that answers at once,
// rounds times, each on a fresh store from newStore, and returns the
// fastest round: deprov's own cost per revocation, with job claim, audit
// writes and state changes, and nothing to wait for.
func Overhead(b *testing.B, newStore func() store.Store, n, other, rounds int) Result {
	b.Helper()
	var best Result
	for round := range rounds {
		target := StartFake(b, 0)
		res := RevokeAll(b, newStore(), RigOptions{URL: target.URL, Token: target.Token, NativeIDs: IDs(n), Alloc: OverheadAlloc, OtherAccounts: other}, 10*time.Minute)
		if got := target.Patches.Load(); got != int64(n) {
			b.Fatalf("target saw %d PATCHes, want %d", got, n)
		}
		b.Logf("round %d: %d revocations (%d other accounts), allocation %d: run stored and queued in %s, all succeeded after %s (%.0f/s, steady %.0f/s, %s CPU each); target saw %d GET, %d PATCH on %d connections",
			round+1, n, other, OverheadAlloc, res.Planned.Round(time.Millisecond), res.Elapsed.Round(time.Millisecond), res.Rate(), res.SteadyRate(), res.CPUPerRevocation().Round(time.Microsecond),
			target.Gets.Load(), target.Patches.Load(), target.Conns.Load())
		if round == 0 || res.Rate() > best.Rate() {
			best = res
		}
	}
	return best
}
