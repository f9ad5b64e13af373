package schedule

import (
	"testing"
	"time"
)

func TestNextCrontab(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{
			name: "weekdays 09:30 New York, EST then EDT", expr: "30 9 * * 1-5", zone: "America/New_York",
			after: "2024-03-07T00:00:00Z", // Thursday; clocks go forward Sunday 10 March
			want: []string{
				"2024-03-07T09:30:00-05:00", // 14:30Z
				"2024-03-08T09:30:00-05:00", // 14:30Z
				"2024-03-11T09:30:00-04:00", // 13:30Z
				"2024-03-12T09:30:00-04:00", // 13:30Z
			},
		},
		{
			name: "every 15 minutes", expr: "*/15 * * * *", zone: "UTC", after: "2024-12-31T23:40:00Z",
			want: []string{"2024-12-31T23:45:00Z", "2025-01-01T00:00:00Z", "2025-01-01T00:15:00Z", "2025-01-01T00:30:00Z"},
		},
		{
			name: "every 15 minutes, half-hour zone", expr: "*/15 * * * *", zone: "Asia/Kolkata", after: "2024-01-01T00:05:00Z",
			want: []string{"2024-01-01T05:45:00+05:30", "2024-01-01T06:00:00+05:30"},
		},
		{
			name: "7 is Sunday", expr: "0 0 * * 7", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"},
		},
		{
			name: "0 is Sunday", expr: "0 0 * * 0", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-07T00:00:00Z"},
		},
		{
			name: "5-7 is Friday to Sunday", expr: "0 0 * * 5-7", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-12T00:00:00Z"},
		},
		{
			name: "names", expr: "0 6 * jan,Feb sat", zone: "UTC", after: "2024-01-28T00:00:00Z",
			want: []string{"2024-02-03T06:00:00Z", "2024-02-10T06:00:00Z", "2024-02-17T06:00:00Z", "2024-02-24T06:00:00Z", "2025-01-04T06:00:00Z"},
		},
		{
			name: "both day fields restricted: either matches", expr: "0 0 13 * FRI", zone: "UTC", after: "2024-09-01T00:00:00Z",
			want: []string{"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z", "2024-10-04T00:00:00Z"},
		},
		{
			name: "day field starting with * is unrestricted: both match", expr: "0 0 */2 * MON", zone: "UTC", after: "2024-01-01T00:00:00Z",
			// odd days (1, 3, …) that are Mondays
			want: []string{"2024-01-15T00:00:00Z", "2024-01-29T00:00:00Z", "2024-02-05T00:00:00Z", "2024-02-19T00:00:00Z"},
		},
		{
			name: "29 February skips 2100", expr: "0 0 29 2 *", zone: "UTC", after: "2096-03-01T00:00:00Z",
			want: []string{"2104-02-29T00:00:00Z"},
		},
		{
			name: "rare: 29 February on a Sunday", expr: "0 0 29 2 */7", zone: "UTC", after: "2004-03-01T00:00:00Z",
			want: []string{"2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z", "2088-02-29T00:00:00Z", "2128-02-29T00:00:00Z"},
		},
		{name: "@hourly", expr: "@hourly", zone: "UTC", after: "2024-01-01T10:30:00Z", want: []string{"2024-01-01T11:00:00Z"}},
		{name: "@daily", expr: "@daily", zone: "Europe/Berlin", after: "2024-01-01T10:30:00Z", want: []string{"2024-01-02T00:00:00+01:00"}},
		{name: "@weekly", expr: "@weekly", zone: "UTC", after: "2024-01-01T00:00:00Z", want: []string{"2024-01-07T00:00:00Z"}},
		{name: "@monthly", expr: "@monthly", zone: "UTC", after: "2024-01-01T00:00:00Z", want: []string{"2024-02-01T00:00:00Z"}},
		{name: "@yearly", expr: "@yearly", zone: "UTC", after: "2024-01-01T00:00:00Z", want: []string{"2025-01-01T00:00:00Z"}},
		{name: "@annually", expr: "@annually", zone: "UTC", after: "2024-01-01T00:00:00Z", want: []string{"2025-01-01T00:00:00Z"}},
		{name: "@midnight", expr: "@midnight", zone: "UTC", after: "2024-01-01T00:00:00Z", want: []string{"2024-01-02T00:00:00Z"}},
	})
}

// TestCrontabAgreesWithQuartz runs crontab lines (robfig's evaluation) and
// their Quartz equivalents (ours) side by side, across DST changes.
func TestCrontabAgreesWithQuartz(t *testing.T) {
	t.Parallel()
	pairs := []struct{ crontab, quartz string }{
		{"30 9 * * 1-5", "0 30 9 ? * MON-FRI"},
		{"*/15 * * * *", "0 */15 * * * ?"},
		{"0 2 * * *", "0 0 2 * * ?"},
		{"30 2 * * *", "0 30 2 * * ?"},
		{"0 */3 * * 0", "0 0 */3 ? * SUN"},
		{"15 1 1,15 * *", "0 15 1 1,15 * ?"},
		{"0 0 31 * *", "0 0 0 31 * ?"},
		{"5 4 * 2 *", "0 5 4 * 2 ?"},
		{"0 12 29 2 *", "0 0 12 29 2 ?"},
	}
	after := time.Date(2023, 12, 20, 0, 0, 0, 0, time.UTC)
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"} {
		for _, p := range pairs {
			t.Run(zone+"/"+p.crontab, func(t *testing.T) {
				t.Parallel()
				loc := mustLoc(t, zone)
				c := formatAll(mustParse(t, p.crontab, loc).NextN(after, 400))
				q := formatAll(mustParse(t, p.quartz, loc).NextN(after, 400))
				if !equalStrings(c, q) {
					for i := range min(len(c), len(q)) {
						if c[i] != q[i] {
							t.Fatalf("fire %d: crontab %s, quartz %s", i, c[i], q[i])
						}
					}
					t.Fatalf("crontab gave %d times, quartz %d", len(c), len(q))
				}
			})
		}
	}
}
