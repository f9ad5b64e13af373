package schedule

import (
	"errors"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

func TestNextQuartz(t *testing.T) {
	t.Parallel()
	runNextCases(t, []nextCase{
		{
			name: "1 is Sunday", expr: "0 0 12 ? * 1", zone: "UTC", after: "2024-01-01T00:00:00Z", // a Monday
			want: []string{"2024-01-07T12:00:00Z", "2024-01-14T12:00:00Z", "2024-01-21T12:00:00Z"},
		},
		{
			name: "SUN is 1", expr: "0 0 12 ? * SUN", zone: "UTC", after: "2024-01-07T12:00:00Z",
			want: []string{"2024-01-14T12:00:00Z"},
		},
		{
			name: "7 is Saturday", expr: "0 0 12 ? * 7", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-06T12:00:00Z", "2024-01-13T12:00:00Z"},
		},
		{
			name: "weekday names range", expr: "0 30 8 ? * MON-FRI", zone: "UTC", after: "2024-01-05T09:00:00Z", // Friday
			want: []string{"2024-01-08T08:30:00Z", "2024-01-09T08:30:00Z", "2024-01-10T08:30:00Z", "2024-01-11T08:30:00Z", "2024-01-12T08:30:00Z", "2024-01-15T08:30:00Z"},
		},
		{
			name: "day-of-week step", expr: "0 0 0 ? * 1/3", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-03T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-10T00:00:00Z"}, // Sun, Wed, Sat
		},
		{
			name: "L is the last day, leap February", expr: "0 0 2 L * ?", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{
				"2024-01-31T02:00:00Z", "2024-02-29T02:00:00Z", "2024-03-31T02:00:00Z", "2024-04-30T02:00:00Z",
				"2024-05-31T02:00:00Z", "2024-06-30T02:00:00Z", "2024-07-31T02:00:00Z", "2024-08-31T02:00:00Z",
				"2024-09-30T02:00:00Z", "2024-10-31T02:00:00Z", "2024-11-30T02:00:00Z", "2024-12-31T02:00:00Z",
			},
		},
		{
			name: "L in a common February", expr: "0 0 2 L * ?", zone: "UTC", after: "2023-02-01T00:00:00Z",
			want: []string{"2023-02-28T02:00:00Z", "2023-03-31T02:00:00Z"},
		},
		{
			name: "L on the last day after the fire time", expr: "0 0 2 L * ?", zone: "UTC", after: "2024-04-30T02:00:00Z",
			want: []string{"2024-05-31T02:00:00Z"},
		},
		{
			name: "L-n", expr: "0 0 12 L-2 * ?", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-29T12:00:00Z", "2024-02-27T12:00:00Z", "2024-03-29T12:00:00Z", "2024-04-28T12:00:00Z"},
		},
		{
			name: "L-n skips months too short", expr: "0 0 0 L-30 * ?", zone: "UTC", after: "2024-01-01T12:00:00Z",
			want: []string{"2024-03-01T00:00:00Z", "2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z"},
		},
		{
			name: "nW nearest weekday", expr: "0 0 12 15W * ?", zone: "UTC", after: "2024-05-01T00:00:00Z",
			// 15 June 2024 is a Saturday, 15 September a Sunday
			want: []string{"2024-05-15T12:00:00Z", "2024-06-14T12:00:00Z", "2024-07-15T12:00:00Z", "2024-08-15T12:00:00Z", "2024-09-16T12:00:00Z"},
		},
		{
			name: "1W does not leave the month", expr: "0 0 12 1W * ?", zone: "UTC", after: "2024-05-15T00:00:00Z",
			want: []string{"2024-06-03T12:00:00Z"}, // 1 June 2024 is a Saturday
		},
		{
			name: "31W in a 30-day month", expr: "0 0 12 31W * ?", zone: "UTC", after: "2024-06-01T00:00:00Z",
			want: []string{"2024-06-28T12:00:00Z", "2024-07-31T12:00:00Z"}, // 30 June is a Sunday
		},
		{
			name: "LW last weekday", expr: "0 0 12 LW * ?", zone: "UTC", after: "2024-03-01T00:00:00Z",
			want: []string{"2024-03-29T12:00:00Z", "2024-04-30T12:00:00Z", "2024-05-31T12:00:00Z", "2024-06-28T12:00:00Z"},
		},
		{
			name: "nL last such weekday", expr: "0 15 10 ? * 6L", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-26T10:15:00Z", "2024-02-23T10:15:00Z", "2024-03-29T10:15:00Z"},
		},
		{
			name: "L alone is Saturday, every week", expr: "0 0 12 ? * L", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-06T12:00:00Z", "2024-01-13T12:00:00Z"},
		},
		{
			name: "n#k k-th weekday", expr: "0 15 10 ? * 6#3", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-19T10:15:00Z", "2024-02-16T10:15:00Z", "2024-03-15T10:15:00Z"},
		},
		{
			name: "n#5 only in months that have one", expr: "0 0 12 ? * MON#5", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{"2024-01-29T12:00:00Z", "2024-04-29T12:00:00Z", "2024-07-29T12:00:00Z", "2024-09-30T12:00:00Z"},
		},
		{
			// December 2023 has no fifth Monday; go-quartz then skips January's.
			name: "n#5 from a month without one", expr: "0 0 9 ? * 2#5", zone: "UTC", after: "2023-12-30T07:00:00Z",
			want: []string{"2024-01-29T09:00:00Z", "2024-04-29T09:00:00Z"},
		},
		{
			name: "year field", expr: "0 0 12 1 1 ? 2026,2028", zone: "UTC", after: "2024-06-01T00:00:00Z",
			want: []string{"2026-01-01T12:00:00Z", "2028-01-01T12:00:00Z"},
		},
		{
			name: "year range with weekday", expr: "0 0 12 ? 3 MON 2025-2026", zone: "UTC", after: "2024-01-01T00:00:00Z",
			want: []string{
				"2025-03-03T12:00:00Z", "2025-03-10T12:00:00Z", "2025-03-17T12:00:00Z", "2025-03-24T12:00:00Z", "2025-03-31T12:00:00Z",
				"2026-03-02T12:00:00Z", "2026-03-09T12:00:00Z", "2026-03-16T12:00:00Z", "2026-03-23T12:00:00Z", "2026-03-30T12:00:00Z",
			},
		},
		{
			name: "last allowed year", expr: "0 0 0 1 1 ? 2099", zone: "Europe/Berlin", after: "2024-01-01T00:00:00Z",
			want: []string{"2099-01-01T00:00:00+01:00"},
		},
		{
			name: "29 February skips 2100", expr: "0 0 0 29 2 ?", zone: "UTC", after: "2096-03-01T00:00:00Z",
			want: []string{"2104-02-29T00:00:00Z"},
		},
		{
			name: "seconds", expr: "15,45 * * ? * *", zone: "UTC", after: "2024-01-01T00:00:50Z",
			want: []string{"2024-01-01T00:01:15Z", "2024-01-01T00:01:45Z", "2024-01-01T00:02:15Z"},
		},
		{
			name: "every hour on one day of the month", expr: "0 0 * 1 * ?", zone: "UTC", after: "2024-01-01T22:00:00Z",
			want: []string{"2024-01-01T23:00:00Z", "2024-02-01T00:00:00Z", "2024-02-01T01:00:00Z"},
		},
		{
			name: "every hour on Mondays", expr: "0 0 * ? * MON", zone: "UTC", after: "2024-01-01T22:00:00Z",
			want: []string{"2024-01-01T23:00:00Z", "2024-01-08T00:00:00Z"},
		},
		{
			name: "31st only in long months", expr: "0 0 0 31 * ?", zone: "UTC", after: "2024-01-31T00:00:00Z",
			want: []string{"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"},
		},
		{
			name: "before 1970 starts in 1970", expr: "0 0 12 * * ?", zone: "UTC", after: "1900-06-01T00:00:00Z",
			want: []string{"1970-01-01T12:00:00Z"},
		},
	})
}

// TestQuartzAgreesWithGoQuartz compares our Quartz evaluation with go-quartz
// in UTC, for expressions outside go-quartz's known defects (see quartz.go):
// no wildcard hour with a restricted day, no day-of-month past a month's
// end, no "L" alone in day-of-week.
func TestQuartzAgreesWithGoQuartz(t *testing.T) {
	t.Parallel()
	after := time.Date(2023, 12, 30, 7, 0, 0, 0, time.UTC)
	for _, expr := range []string{
		"0 0 12 ? * 1",
		"0 0 12 * * ?",
		"0 15 10 ? * MON-FRI",
		"0 0/5 14,18 * * ?",
		"30 10,44 14 ? 3 WED",
		"0 15 10 15 * ?",
		"0 15 10 L * ?",
		"0 15 10 L-2 * ?",
		"0 15 10 ? * 6L",
		"0 15 10 ? * 6#3",
		"0 0 12 15W * ?",
		"0 0 12 1W * ?",
		"0 0 12 LW * ?",
		"0 0 12 1 1/2 ? 2024-2026",
		"0 0 0 ? * 1-7/2",
		"0 0 8 1,15 2,8 ?",
		"0 0 12 ? JAN,JUL SUN",
	} {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			trig, err := quartz.NewCronTrigger(expr)
			if err != nil {
				t.Fatal(err)
			}
			s := mustParse(t, expr, time.UTC)
			prev := after
			for i := range 60 {
				got := s.Next(prev)
				theirs, err := trig.NextFireTime(prev.UnixNano())
				if errors.Is(err, quartz.ErrTriggerExpired) && got.IsZero() {
					return
				}
				if err != nil {
					t.Fatalf("go-quartz after %s: %v", prev, err)
				}
				want := time.Unix(0, theirs).UTC()
				if !got.Equal(want) {
					t.Fatalf("fire %d after %s: got %s, go-quartz %s", i, prev, got, want)
				}
				prev = got
			}
		})
	}
}
