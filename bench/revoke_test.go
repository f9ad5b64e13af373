package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/deprov/deprov/internal/scimtarget"
)

// revokeN is how many leavers each revoke_vs_bare figure revokes.
const revokeN = 1000

// BenchmarkRevokeVsBare compares deprov with the least any client must do,
// against the real SCIM target (SCIMMY on Node.js, internal/scimtarget):
// for allocation sizes 1, 8 and 32, the rate at which deprov disables
// 1,000 leavers (from Run to the last success, on SQLite) over the rate of
// a bare net/http client sending the same requests (the GET the connector
// sends first, then the PATCH; same headers and bodies) at the same
// concurrency to the same target holding the same users. Goal 0.9.
//
// Each allocation size gets a fresh target. An untimed bare pass (PATCH
// active=true on active users) warms it up; then three rounds of: the bare
// client disables everyone, an untimed pass enables them again, deprov (on
// a fresh store) disables them, and everyone is enabled again. The better
// round of each counts.
func BenchmarkRevokeVsBare(b *testing.B) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("alloc=%d", n), func(b *testing.B) {
			ctx := context.Background()
			tg := scimtarget.Start(b)
			ids := make([]string, revokeN)
			for i := range ids {
				ids[i] = tg.CreateUser(b, fmt.Sprintf("user%07d", i), true)
			}
			var bareCPU time.Duration
			bare := func(active, readFirst bool, conc int) time.Duration {
				cpu0 := processCPU()
				d, err := Bare(ctx, BareOptions{URL: tg.URL, Token: tg.Token, Concurrency: conc, ReadFirst: readFirst, Active: active}, ids)
				if err != nil {
					b.Fatal(err)
				}
				bareCPU = processCPU() - cpu0
				return d
			}
			bare(true, true, n) // warm-up: changes nothing
			var bareRate, deprovRate float64
			for round := range 3 {
				tBare := bare(false, true, n)
				cpuBare := bareCPU / revokeN
				bare(true, false, 8) // everyone active again
				before := len(tg.Requests(b))
				res := revokeAll(b, tg.URL, tg.Token, ids, n, 10*time.Minute)
				sent := len(tg.Requests(b)) - before // admin calls are not logged
				for _, i := range []int{0, revokeN / 2, revokeN - 1} {
					if u, _ := tg.User(b, ids[i]); u["active"] != false {
						b.Fatalf("user %d still active after deprov's run: %v", i, u)
					}
				}
				bare(true, false, 8)
				r := float64(revokeN) / tBare.Seconds()
				b.Logf("allocation %d, round %d: bare client %s (%.0f/s, 2 requests and %s CPU each); deprov %s (%.0f/s; run stored and queued in %s; %d requests, %.1f and %s CPU each)",
					n, round+1, tBare.Round(time.Millisecond), r, cpuBare.Round(time.Microsecond), res.Elapsed.Round(time.Millisecond), res.Rate(),
					res.Planned.Round(time.Millisecond), sent, float64(sent)/revokeN, res.CPUPerRevocation().Round(time.Microsecond))
				bareRate, deprovRate = max(bareRate, r), max(deprovRate, res.Rate())
			}
			Report(b, fmt.Sprintf("revoke_vs_bare_%d", n), deprovRate/bareRate, "ratio")
			Report(b, fmt.Sprintf("revoke_bare_%d_rate", n), bareRate, "revocations/s")
			Report(b, fmt.Sprintf("revoke_deprov_%d_rate", n), deprovRate, "revocations/s")
		})
	}
}
