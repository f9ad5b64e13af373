package bench

import (
	"fmt"
	"testing"
	"time"
)

// targetLatency is how long the scaling figure's target takes per answer.
const targetLatency = 50 * time.Millisecond

// BenchmarkScaling measures how well the workers overlap round trips: a
// fake target answers every request after 50 ms, and N workers (the rule's
// allocation size) revoke 40·N leavers on SQLite. The figure is the steady
// rate (10th to 90th percentile of completions) over N / 50 ms, what N
// workers sending one request at a time could reach at best. Goal 0.9.
//
// deprov's SCIM connector sends two requests per disable (it reads the
// user before the PATCH), which caps the figure at 0.5; the _per_request
// figure counts requests instead of revocations and shows how much of the
// target's capacity the engine keeps busy.
func BenchmarkScaling(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("alloc=%d", n), func(b *testing.B) {
			m := 40 * n
			target := StartFake(b, targetLatency)
			res := revokeAll(b, target.URL, target.Token, IDs(m), n, 10*time.Minute)
			reqs := float64(target.Gets.Load()+target.Patches.Load()) / float64(m)
			best := float64(n) / targetLatency.Seconds()
			b.Logf("%d revocations, allocation %d: %.1f requests each; all succeeded after %s (%.1f/s overall), steady %.1f/s; one-request-at-a-time best %.0f/s",
				m, n, reqs, res.Elapsed.Round(time.Millisecond), res.Rate(), res.SteadyRate(), best)
			Report(b, fmt.Sprintf("scaling_%d", n), res.SteadyRate()/best, "ratio")
			Report(b, fmt.Sprintf("scaling_%d_per_request", n), res.SteadyRate()*reqs/best, "ratio")
		})
	}
}
