package schedule

import (
	"testing"
	"time"
)

// Europe/Berlin: on 31 March 2024 clocks go from 02:00 CET to 03:00 CEST
// (01:00Z), so 02:00-02:59 never happens; on 27 October 2024 they go from
// 03:00 CEST back to 02:00 CET (01:00Z), so 02:00-02:59 happens twice.
// America/New_York does the same at 02:00 on 10 March and 3 November 2024.
func TestNextAcrossDST(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{
			// 02:00 does not exist on 31 March: the job runs once, at the
			// change (03:00 CEST), and is back to 02:00 the next day.
			name: "daily 02:00 Berlin, spring forward", expr: "0 0 2 * * ?", zone: "Europe/Berlin",
			after: "2024-03-29T12:00:00+01:00",
			want:  []string{"2024-03-30T02:00:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00"},
		},
		{
			// 02:00 happens twice on 27 October: the job runs the first
			// time round only (02:00 CEST, 00:00Z).
			name: "daily 02:00 Berlin, fall back", expr: "0 0 2 * * ?", zone: "Europe/Berlin",
			after: "2024-10-25T12:00:00+02:00",
			want:  []string{"2024-10-26T02:00:00+02:00", "2024-10-27T02:00:00+02:00", "2024-10-28T02:00:00+01:00"},
		},
		{
			name: "daily 02:00 Berlin, asked inside the repeated hour", expr: "0 0 2 * * ?", zone: "Europe/Berlin",
			after: "2024-10-27T02:30:00+01:00", // second time round
			want:  []string{"2024-10-28T02:00:00+01:00"},
		},
		{
			name: "daily 02:00 Berlin, asked between the two 02:00s", expr: "0 0 2 * * ?", zone: "Europe/Berlin",
			after: "2024-10-27T02:30:00+02:00", // first time round
			want:  []string{"2024-10-28T02:00:00+01:00"},
		},
		{
			// A skipped 02:30 also runs at the change, not at 03:30.
			name: "daily 02:30 Berlin, spring forward", expr: "0 30 2 * * ?", zone: "Europe/Berlin",
			after: "2024-03-30T12:00:00+01:00",
			want:  []string{"2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"},
		},
		{
			// Several fixed times in the skipped hour collapse into one run.
			name: "02:00 and 02:30 Berlin, spring forward", expr: "0 0,30 2 * * ?", zone: "Europe/Berlin",
			after: "2024-03-30T12:00:00+01:00",
			want:  []string{"2024-03-31T03:00:00+02:00", "2024-04-01T02:00:00+02:00", "2024-04-01T02:30:00+02:00"},
		},
		{
			name: "03:00 Berlin is unaffected", expr: "0 0 3 * * ?", zone: "Europe/Berlin",
			after: "2024-03-30T12:00:00+01:00",
			want:  []string{"2024-03-31T03:00:00+02:00", "2024-04-01T03:00:00+02:00"},
		},
		{
			// An interval job follows elapsed time: nothing in the skipped
			// hour, and no burst at the change.
			name: "every 30 minutes Berlin, spring forward", expr: "0 0/30 * * * ?", zone: "Europe/Berlin",
			after: "2024-03-31T01:00:00+01:00",
			want:  []string{"2024-03-31T01:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"},
		},
		{
			// … and runs through the repeated hour both times round.
			name: "every 30 minutes Berlin, fall back", expr: "0 0/30 * * * ?", zone: "Europe/Berlin",
			after: "2024-10-27T01:00:00+02:00",
			want: []string{
				"2024-10-27T01:30:00+02:00", "2024-10-27T02:00:00+02:00", "2024-10-27T02:30:00+02:00",
				"2024-10-27T02:00:00+01:00", "2024-10-27T02:30:00+01:00", "2024-10-27T03:00:00+01:00",
			},
		},
		{
			name: "hourly at :30 New York, spring forward", expr: "30 * * * *", zone: "America/New_York",
			after: "2024-03-10T00:45:00-05:00",
			want:  []string{"2024-03-10T01:30:00-05:00", "2024-03-10T03:30:00-04:00"},
		},
		{
			name: "02:30 New York, spring forward", expr: "30 2 * * *", zone: "America/New_York",
			after: "2024-03-09T00:00:00-05:00",
			want:  []string{"2024-03-09T02:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"},
		},
		{
			name: "01:30 New York, fall back", expr: "30 1 * * *", zone: "America/New_York",
			after: "2024-11-02T00:00:00-04:00",
			want:  []string{"2024-11-02T01:30:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"},
		},
		{
			name: "every 30 minutes New York, fall back", expr: "*/30 * * * *", zone: "America/New_York",
			after: "2024-11-03T00:45:00-04:00",
			want: []string{
				"2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00",
				"2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00",
			},
		},
		{
			// Southern hemisphere: Sydney skips 02:00-02:59 on 6 October 2024.
			name: "daily 02:15 Sydney, spring forward", expr: "15 2 * * *", zone: "Australia/Sydney",
			after: "2024-10-05T12:00:00+10:00",
			want:  []string{"2024-10-06T03:00:00+11:00", "2024-10-07T02:15:00+11:00"},
		},
		{
			// Lord Howe Island moves by 30 minutes.
			name: "daily 02:10 Lord Howe, spring forward", expr: "10 2 * * *", zone: "Australia/Lord_Howe",
			after: "2024-10-05T12:00:00+10:30",
			want:  []string{"2024-10-06T02:30:00+11:00", "2024-10-07T02:10:00+11:00"},
		},
		{
			// Go's ZoneBounds misreports the last day of 2040 here
			// (golang/go#81583); fire times must still run on.
			name: "daily across the end of a leap year in a TZ-rule year", expr: "0 0 * * *", zone: "Europe/Berlin",
			after: "2040-12-29T12:00:00Z",
			want:  []string{"2040-12-30T00:00:00+01:00", "2040-12-31T00:00:00+01:00", "2041-01-01T00:00:00+01:00", "2041-01-02T00:00:00+01:00"},
		},
		{
			name: "spring forward in a TZ-rule year", expr: "0 30 2 * * ?", zone: "Europe/Berlin",
			after: "2090-03-25T12:00:00+01:00",
			want:  []string{"2090-03-26T03:00:00+02:00", "2090-03-27T02:30:00+02:00"},
		},
	})
}

// TestNextDailyOncePerDay walks a fixed-time daily schedule through whole
// DST years: exactly one run on each local calendar day.
func TestNextDailyOncePerDay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ zone, expr string }{
		{"Europe/Berlin", "0 0 2 * * ?"},
		{"Europe/Berlin", "0 30 2 * * ?"},
		{"America/New_York", "30 1 * * *"},
		{"America/New_York", "30 2 * * *"},
		{"Australia/Sydney", "0 2 * * *"},
	} {
		t.Run(tc.zone+"/"+tc.expr, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, tc.zone)
			from := time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
			got := mustParse(t, tc.expr, loc).NextN(from, 366*2)
			for i, v := range got {
				want := from.AddDate(0, 0, i)
				if y, m, d := v.Date(); y != want.Year() || m != want.Month() || d != want.Day() {
					t.Fatalf("run %d is %s, want one on %s", i, v, want.Format(time.DateOnly))
				}
			}
		})
	}
}

// TestNextZeroAfter: the zero time is a valid "after".
func TestNextZeroAfter(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	if got := mustParse(t, "0 0 12 * * ?", berlin).Next(time.Time{}); got.Format(time.RFC3339) != "1970-01-01T12:00:00+01:00" {
		t.Errorf("Quartz: got %s, want the first day of 1970", got)
	}
	if got := mustParse(t, "@daily", berlin).Next(time.Time{}); got.IsZero() || got.Year() != 1 {
		t.Errorf("crontab: got %s, want a time in year 1", got)
	}
}
