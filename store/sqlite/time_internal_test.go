package sqlite

import (
	"database/sql"
	"testing"
	"time"

	"github.com/deprov/deprov/audit"
)

// FuzzParseKeptTime: the fast path reads exactly what time.Parse reads in
// the stored format, and refuses what it refuses.
func FuzzParseKeptTime(f *testing.F) {
	for _, s := range []string{"2026-11-26T09:00:00.123456Z", "2024-02-29T23:59:59.999999Z", "2026-02-29T00:00:00.000000Z",
		"2026-04-31T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-11-26T24:00:00.000000Z", "2026-11-26 09:00:00.123456Z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wantErr := time.Parse(audit.TimeFormat, s)
		if got, ok := parseKeptTime(s); ok {
			if wantErr != nil || !got.Equal(want) || got.Location() != time.UTC {
				t.Fatalf("parseKeptTime(%q) = %s; time.Parse: %s, %v", s, got, want, wantErr)
			}
		}
		got, err := parseTime(sql.NullString{String: s, Valid: true})
		if s == "" {
			return
		}
		if (err != nil) != (wantErr != nil) || (err == nil && !got.Equal(want)) {
			t.Fatalf("parseTime(%q) = %s, %v; time.Parse: %s, %v", s, got, err, want, wantErr)
		}
	})
}
