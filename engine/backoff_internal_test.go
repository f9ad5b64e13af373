package engine

import (
	"testing"
	"time"
)

// TestBackoff: retries wait 2 s, 4 s, 8 s … doubling, capped at 10 min,
// each within ±20 %, and two draws of one attempt differ (jitter).
func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{
		1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 6: 64 * time.Second,
		9: 512 * time.Second, 10: 10 * time.Minute, 30: 10 * time.Minute,
	} {
		lo, hi := time.Duration(float64(want)*0.8), time.Duration(float64(want)*1.2)
		seen := map[time.Duration]bool{}
		for range 50 {
			d := backoff(attempt)
			if d < lo || d > hi {
				t.Fatalf("backoff(%d) = %s, want within %s–%s", attempt, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) gave the same delay 50 times: no jitter", attempt)
		}
	}
}
