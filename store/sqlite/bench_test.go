package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deprov/deprov/audit"
	"github.com/deprov/deprov/identity"
)

func benchIdentities(n int, status string) []identity.Identity {
	ids := make([]identity.Identity, n)
	for i := range ids {
		ids[i] = identity.Identity{
			SourceID: "hr", ExternalID: fmt.Sprintf("E%07d", i), UserName: fmt.Sprintf("user%07d", i),
			Email: fmt.Sprintf("user%07d@example.com", i), DisplayName: fmt.Sprintf("User %d", i),
			Status: status, Department: "Sales", Manager: "E0000001",
			Attributes: map[string]string{"country": "DE", "costCenter": "4711"},
		}
	}
	return ids
}

// BenchmarkSyncIdentities syncs 10k identities: a first (all created), an
// unchanged resync, and a resync where every identity changed.
func BenchmarkSyncIdentities(b *testing.B) {
	const n = 10_000
	active, leaver := benchIdentities(n, "Active"), benchIdentities(n, "Terminated")
	ev := audit.Event{Action: "source.synced"}
	ctx := context.Background()

	b.Run("create", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s, _ := setup(b, nil)
			b.StartTimer()
			if _, err := s.SyncIdentities(ctx, "hr", active, ev); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/identity")
	})
	b.Run("unchanged", func(b *testing.B) {
		s, _ := setup(b, nil)
		if _, err := s.SyncIdentities(ctx, "hr", active, ev); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.SyncIdentities(ctx, "hr", active, ev); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/identity")
	})
	b.Run("changed", func(b *testing.B) {
		s, _ := setup(b, nil)
		sets := [][]identity.Identity{active, leaver}
		if _, err := s.SyncIdentities(ctx, "hr", active, ev); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			if _, err := s.SyncIdentities(ctx, "hr", sets[i%2], ev); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/identity")
	})
}
