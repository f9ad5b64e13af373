package schedule

import (
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", " ", "*", "* * * * *", "*/15 * * * *", "30 9 * * 1-5", "0 0 * * 7", "0 0 31 2 *",
		"@daily", "@every 1h", "@", "CRON_TZ=UTC * * * * *",
		"0 0 12 ? * 1", "0 0 2 L * ?", "0 0 12 L-2 * ?", "0 0 12 15W * ?", "0 0 12 LW * ?",
		"0 0 12 ? * 6L", "0 0 12 ? * 6#3", "0 0 12 ? * L", "0 0 12 1 1 ? 2030", "0 0 12 * * 1",
		"0 0 12 ? * ?", "? ? ? ? ? ?", "0 0 0 1 1 ? 1970-2099/7", "1-2/3,4-5/6 */9 1,2,3 JAN-DEC/2 MON-FRI",
		"0 0 0 L-30 * ?", "0 0 0 31W 2 ?", "9999999999 * * * *", "-1 * * * *", "1--2 * * * *", "1//2 * * * *",
		"0 0 12 ? * #", "0 0 12 ? * L#", "0 0 12 W * ?", "0 0 12 L- * ?", "\x00 \xff * * *",
	} {
		f.Add(seed)
	}
	after := time.Date(2024, 3, 30, 23, 59, 59, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		for _, loc := range []*time.Location{time.UTC, fuzzBerlin} {
			s, err := Parse(expr, loc)
			if err != nil {
				if s != nil {
					t.Fatalf("Parse(%q) returned a schedule and an error", expr)
				}
				continue
			}
			if s.String() != expr {
				t.Fatalf("String() = %q, want %q", s.String(), expr)
			}
			prev := after
			for _, v := range s.NextN(after, 3) {
				if !v.After(prev) {
					t.Fatalf("%q: %s is not after %s", expr, v, prev)
				}
				prev = v
			}
		}
	})
}

var fuzzBerlin = func() *time.Location {
	loc, err := LoadTimezone("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()
