package schedule

import (
	"strings"
	"testing"
	"time"
)

// River's PeriodicSchedule is Next(time.Time) time.Time.
var _ interface{ Next(time.Time) time.Time } = (*Schedule)(nil)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadTimezone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t *testing.T, expr string, loc *time.Location) *Schedule {
	t.Helper()
	s, err := Parse(expr, loc)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

// at reads an RFC 3339 time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// formatAll writes times as RFC 3339 in their own zone, for comparing.
func formatAll(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, v := range ts {
		out[i] = v.Format(time.RFC3339)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nextCase checks that a schedule's next len(want) fire times after `after`
// are want, written as RFC 3339 in the schedule's zone.
type nextCase struct {
	name  string
	expr  string
	zone  string
	after string
	want  []string
}

func runNextCases(t *testing.T, cases []nextCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tc.expr, mustLoc(t, tc.zone))
			n := len(tc.want)
			if n == 0 {
				n = 3
			}
			got := formatAll(s.NextN(at(t, tc.after), n))
			if !equalStrings(got, tc.want) {
				t.Errorf("%q after %s:\n got  %q\n want %q", tc.expr, tc.after, got, tc.want)
			}
		})
	}
}

func TestLoadTimezone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, zone, want, wantErr string
	}{
		{name: "empty is UTC", zone: "", want: "UTC"},
		{name: "UTC", zone: "UTC", want: "UTC"},
		{name: "IANA zone", zone: "Europe/Berlin", want: "Europe/Berlin"},
		{name: "unknown", zone: "Mars/Olympus_Mons", wantErr: `unknown IANA time zone "Mars/Olympus_Mons"`},
		{name: "host zone refused", zone: "Local", wantErr: `unknown IANA time zone "Local"`},
		{name: "path escape", zone: "../etc/passwd", wantErr: `unknown IANA time zone "../etc/passwd"`},
		{name: "wrong case", zone: "europe/berlin", wantErr: `unknown IANA time zone "europe/berlin"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc, err := LoadTimezone(tc.zone)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if loc.String() != tc.want {
				t.Errorf("got %s, want %s", loc, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		expr string
		// want are substrings of the error, in order.
		want []string
	}{
		{name: "empty", expr: "", want: []string{"empty cron expression"}},
		{name: "blank", expr: " \t ", want: []string{"empty cron expression"}},
		{name: "too few fields", expr: "0 12 * *", want: []string{"want 5 fields (crontab) or 6-7 (Quartz), got 4"}},
		{name: "too many fields", expr: "0 0 12 ? * 1 2030 x", want: []string{"want 5 fields (crontab) or 6-7 (Quartz), got 8"}},
		{name: "day-of-month out of range", expr: "0 0 32 * *", want: []string{`field 3 (day-of-month) "32": value out of range 1-31`}},
		{name: "value in list out of range", expr: "0 0 1,32 * *", want: []string{`field 3 (day-of-month) "1,32": value 32 out of range 1-31`}},
		{name: "minute out of range", expr: "60 * * * *", want: []string{`field 1 (minute) "60": value out of range 0-59`}},
		{name: "quartz second out of range", expr: "60 0 12 ? * 1", want: []string{`field 1 (second) "60": value out of range 0-59`}},
		{name: "quartz hour out of range", expr: "0 0 24 ? * 1", want: []string{`field 3 (hour) "24": value out of range 0-23`}},
		{name: "crontab day-of-week 8", expr: "0 0 * * 8", want: []string{`field 5 (day-of-week) "8": value out of range 0-7`}},
		{name: "quartz day-of-week 0", expr: "0 0 12 ? * 0", want: []string{`field 6 (day-of-week) "0": value out of range 1-7`}},
		{name: "every bad field is named", expr: "61 99 * * *", want: []string{`field 1 (minute) "61"`, `field 2 (hour) "99"`}},
		{name: "garbage", expr: "abc * * * *", want: []string{`field 1 (minute) "abc": "abc" is not a number`}},
		{name: "unknown month name", expr: "0 0 1 JUX *", want: []string{`field 4 (month) "JUX": "JUX" is not a number or month name (JAN-DEC)`}},
		{name: "unknown day name", expr: "0 0 12 ? * FUNDAY", want: []string{`field 6 (day-of-week) "FUNDAY": "FUNDAY" is not a number or day name (SUN-SAT)`}},
		{name: "sign", expr: "+5 * * * *", want: []string{`field 1 (minute) "+5"`}},
		{name: "empty list item", expr: "0 0 1,,2 * *", want: []string{`field 3 (day-of-month) "1,,2": empty item in list`}},
		{name: "backwards range", expr: "0 22-2 * * *", want: []string{`field 2 (hour) "22-2": range 22-2 starts after it ends`}},
		{name: "zero step", expr: "*/0 * * * *", want: []string{`field 1 (minute) "*/0": step 0 out of range 1-59`}},
		{name: "step longer than the field", expr: "*/90 * * * *", want: []string{`field 1 (minute) "*/90": step 90 out of range 1-59`}},
		{name: "half a range", expr: "0 1- * * *", want: []string{`field 2 (hour) "1-": missing value`}},
		{name: "quartz without ?", expr: "0 0 12 * * 1", want: []string{`field 6 (day-of-week) "1": Quartz needs "?" in day-of-month or day-of-week, but day-of-month is "*"`}},
		{name: "quartz both days set", expr: "0 0 12 15 * MON", want: []string{`field 6 (day-of-week) "MON": Quartz needs "?"`, `put "?" in one of them`}},
		{name: "quartz both ?", expr: "0 0 12 ? * ?", want: []string{`field 6 (day-of-week) "?": "?" may stand in only one`}},
		{name: "quartz ? in seconds", expr: "? 0 12 1 * ?", want: []string{`field 1 (second) "?": "?" is allowed only in day-of-month or day-of-week`}},
		{name: "quartz ? in year", expr: "0 0 12 1 * ? ?", want: []string{`field 7 (year) "?"`}},
		{name: "quartz year too late", expr: "0 0 12 1 1 ? 2100", want: []string{`field 7 (year) "2100": value out of range 1970-2099`}},
		{name: "quartz year too early", expr: "0 0 12 1 1 ? 1969", want: []string{`field 7 (year) "1969": value out of range 1970-2099`}},
		{name: "quartz L-n too far", expr: "0 0 12 L-31 * ?", want: []string{`field 4 (day-of-month) "L-31": L-n needs n in 1-30`}},
		{name: "quartz W on a list", expr: "0 0 12 1,15W * ?", want: []string{`field 4 (day-of-month) "1,15W": W follows one day number`}},
		{name: "quartz L in a range", expr: "0 0 12 1-L * ?", want: []string{`field 4 (day-of-month) "1-L": L and W stand alone`}},
		{name: "quartz 6th weekday", expr: "0 0 12 ? * 1#6", want: []string{`field 6 (day-of-week) "1#6": n#k needs k in 1-5`}},
		{name: "quartz # on a list", expr: "0 0 12 ? * 1,2#2", want: []string{`field 6 (day-of-week) "1,2#2": # follows one day`}},
		{name: "quartz nL out of range", expr: "0 0 12 ? * 9L", want: []string{`field 6 (day-of-week) "9L": value 9 out of range 1-7`}},
		{name: "quartz L in crontab", expr: "0 0 L * *", want: []string{`field 3 (day-of-month) "L": "L" is Quartz syntax`}},
		{name: "quartz # in crontab", expr: "0 0 * * MON#2", want: []string{`field 5 (day-of-week) "MON#2": "MON#2" is Quartz syntax`}},
		{name: "? in crontab", expr: "0 0 * * ?", want: []string{`field 5 (day-of-week) "?": "?" is Quartz syntax`}},
		{name: "crontab 31 February", expr: "0 0 31 2 *", want: []string{`field 3 (day-of-month) "31": no such day in the chosen month(s), so it would never fire`}},
		{name: "quartz 30 February", expr: "0 0 0 30 2 ?", want: []string{`field 4 (day-of-month) "30": no such day`}},
		{name: "quartz L-29 in February", expr: "0 0 0 L-29 FEB ?", want: []string{`field 4 (day-of-month) "L-29": no such day`}},
		{name: "unknown descriptor", expr: "@fortnightly", want: []string{`unknown descriptor "@fortnightly"`}},
		{name: "@every is not a schedule", expr: "@every 1h", want: []string{`unknown descriptor "@every 1h"`}},
		{name: "@reboot is not a schedule", expr: "@reboot", want: []string{`unknown descriptor "@reboot"`}},
		{name: "robfig time zone prefix", expr: "CRON_TZ=UTC 0 0 * * *", want: []string{`field 1 (second) "CRON_TZ=UTC"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tc.expr, time.UTC)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.expr, s)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("Parse(%q) error\n %s\nlacks (in order) %q", tc.expr, msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"* * * * *",
		"0 0 * * 0-7",
		"0 0 * * sun,Mon,TUE",
		"0 0 1 jan-MAR *",
		"5/10 1-5/2 */3 * *",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@DAILY",
		"  0\t0 * * *  ",
		"0 0 12 ? * SUN",
		"* * * ? * *",
		"0 0 12 L * ?", "0 0 12 L-3 * ?", "0 0 12 15W * ?", "0 0 12 LW * ?",
		"0 0 12 ? * 6L", "0 0 12 ? * FRIL", "0 0 12 ? * L", "0 0 12 ? * 6#3", "0 0 12 ? * FRI#3",
		"0 0 12 1 1 ? 2030", "0 0 12 1 1 ? 2030-2035/2,2099", "0 0 12 1 1 ? *",
		"0 0 12 29 2 ?",
		"0 0 0 31 1-3 ?",
	} {
		if _, err := Parse(expr, time.UTC); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

func TestStringAndLocation(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	s := mustParse(t, "  30 9 * * 1-5 ", ny)
	if s.String() != "  30 9 * * 1-5 " {
		t.Errorf("String() = %q, want the expression as given", s.String())
	}
	if s.Location() != ny {
		t.Errorf("Location() = %v, want %v", s.Location(), ny)
	}
	if loc := mustParse(t, "@daily", nil).Location(); loc != time.UTC {
		t.Errorf("nil location: got %v, want UTC", loc)
	}
}

func TestNextIsStrictlyAfter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, expr, after, want string
	}{
		{name: "on a fire time", expr: "*/15 * * * *", after: "2024-05-01T10:15:00Z", want: "2024-05-01T10:30:00Z"},
		{name: "just before", expr: "*/15 * * * *", after: "2024-05-01T10:14:59.999999999Z", want: "2024-05-01T10:15:00Z"},
		{name: "just after", expr: "*/15 * * * *", after: "2024-05-01T10:15:00.000000001Z", want: "2024-05-01T10:30:00Z"},
		{name: "quartz seconds", expr: "*/20 * * ? * *", after: "2024-05-01T10:15:20Z", want: "2024-05-01T10:15:40Z"},
		{name: "quartz fractional", expr: "*/20 * * ? * *", after: "2024-05-01T10:15:39.5Z", want: "2024-05-01T10:15:40Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mustParse(t, tc.expr, time.UTC).Next(at(t, tc.after))
			if got.Format(time.RFC3339Nano) != tc.want {
				t.Errorf("Next(%s) = %s, want %s", tc.after, got.Format(time.RFC3339Nano), tc.want)
			}
		})
	}
}

func TestNextReturnsScheduleZone(t *testing.T) {
	t.Parallel()
	tokyo := mustLoc(t, "Asia/Tokyo")
	got := mustParse(t, "0 9 * * *", tokyo).Next(at(t, "2024-04-30T20:00:00Z"))
	if got.Location() != tokyo || got.Format(time.RFC3339) != "2024-05-01T09:00:00+09:00" {
		t.Errorf("got %s in %v, want 2024-05-01T09:00:00+09:00 in Asia/Tokyo", got.Format(time.RFC3339), got.Location())
	}
}

func TestNextN(t *testing.T) {
	t.Parallel()
	after := time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, expr, zone string
		n, want          int
	}{
		{name: "every 15 minutes", expr: "*/15 * * * *", zone: "UTC", n: 200, want: 200},
		{name: "across spring forward", expr: "0 */30 * * * ?", zone: "Europe/Berlin", n: 200, want: 200},
		{name: "fixed time in skipped hour", expr: "0 0,30 2 * * ?", zone: "Europe/Berlin", n: 20, want: 20},
		{name: "across fall back", expr: "*/10 * * * *", zone: "America/New_York", n: 2000, want: 2000},
		{name: "ends with its years", expr: "0 0 12 1 * ? 2024", zone: "UTC", n: 20, want: 9},
		{name: "zero", expr: "@daily", zone: "UTC", n: 0, want: 0},
		{name: "negative", expr: "@daily", zone: "UTC", n: -1, want: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			from := after
			if tc.zone == "America/New_York" {
				from = time.Date(2024, 11, 2, 0, 0, 0, 0, time.UTC)
			}
			got := mustParse(t, tc.expr, mustLoc(t, tc.zone)).NextN(from, tc.n)
			if len(got) != tc.want {
				t.Fatalf("got %d times, want %d", len(got), tc.want)
			}
			prev := from
			for i, v := range got {
				if !v.After(prev) {
					t.Fatalf("time %d, %s, is not after %s", i, v, prev)
				}
				prev = v
			}
		})
	}
}

func TestNextNone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, expr, after string
	}{
		{name: "year in the past", expr: "0 0 12 1 1 ? 2020", after: "2024-01-01T00:00:00Z"},
		{name: "after the last year", expr: "0 0 12 1 1 ? 2025-2026", after: "2026-01-01T12:00:00Z"},
		{name: "no such weekday that year", expr: "0 0 0 ? 2 1#5 2025", after: "2024-01-01T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tc.expr, mustLoc(t, "Europe/Berlin"))
			if got := s.Next(at(t, tc.after)); !got.IsZero() {
				t.Errorf("Next = %s, want the zero time", got)
			}
			if got := s.NextN(at(t, tc.after), 3); len(got) != 0 {
				t.Errorf("NextN = %v, want none", got)
			}
		})
	}
}
