// Package schedule parses the cron expressions of rule and source schedules
// (standard 5-field crontab lines and 6-7 field Quartz expressions) and
// computes their fire times in an IANA time zone, handling DST changes the
// way Vixie cron does.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve even where the host has no zoneinfo
)

// LoadTimezone loads an IANA zone; "" means UTC. "Local" is refused: a
// schedule must not depend on the host it runs on.
func LoadTimezone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("unknown IANA time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown IANA time zone %q", name)
	}
	return loc, nil
}

// Schedule is a parsed cron expression bound to a time zone. It is safe for
// concurrent use.
type Schedule struct {
	expr string
	loc  *time.Location
	eng  engine
	// interval is true when the minute or hour field is a wildcard or a
	// step: the schedule then follows elapsed time across DST changes
	// instead of the wall clock (see Next).
	interval bool
}

// engine computes fire times in civil time: wall-clock times carried in
// UTC, where no day has a gap or a repeat.
type engine interface {
	// next returns the first civil fire time strictly after `after`, or
	// the zero time if there is none.
	next(after time.Time) time.Time
}

// Parse reads a cron expression.
//
// Five fields are a standard crontab line: minute hour day-of-month month
// day-of-week, day-of-week 0-7 with 0 and 7 Sunday, JAN-DEC and SUN-SAT
// names, and the descriptors @yearly (@annually), @monthly, @weekly, @daily
// (@midnight) and @hourly. As in crontab(5), when day-of-month and
// day-of-week are both restricted (neither starts with "*") a day matching
// either fires.
//
// Six or seven fields are Quartz: second minute hour day-of-month month
// day-of-week [year], with day-of-week 1-7 from Sunday (SUN-SAT), years
// 1970-2099, "?" in exactly one of the two day fields, L, L-n, nW and LW in
// day-of-month, and nL and n#k in day-of-week ("L" alone there is Saturday,
// as Quartz defines it).
//
// Fire times are computed in loc (nil means UTC). Errors name the field by
// position and name; Parse never panics.
func Parse(expr string, loc *time.Location) (s *Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cron expression %q: internal error: %v", expr, r)
		}
	}()
	if loc == nil {
		loc = time.UTC
	}
	fs := strings.Fields(expr)
	if len(fs) == 0 {
		return nil, errors.New("empty cron expression")
	}
	s = &Schedule{expr: expr, loc: loc}
	if strings.HasPrefix(fs[0], "@") {
		line, ok := descriptors[strings.ToLower(fs[0])]
		if !ok || len(fs) > 1 {
			return nil, fmt.Errorf("unknown descriptor %q: want @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", strings.Join(fs, " "))
		}
		fs = strings.Fields(line)
	}
	switch len(fs) {
	case 5:
		c, err := parseCrontab(fs)
		if err != nil {
			return nil, err
		}
		s.eng, s.interval = c, isInterval(fs[0]) || isInterval(fs[1])
	case 6, 7:
		q, err := parseQuartz(fs)
		if err != nil {
			return nil, err
		}
		s.eng, s.interval = q, isInterval(fs[1]) || isInterval(fs[2])
	default:
		return nil, fmt.Errorf("want 5 fields (crontab) or 6-7 (Quartz), got %d", len(fs))
	}
	return s, nil
}

// joinErrors returns the one error itself, or all of them joined.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// String returns the expression as given.
func (s *Schedule) String() string { return s.expr }

// Location returns the zone fire times are computed in.
func (s *Schedule) Location() *time.Location { return s.loc }

// NextN returns the next n fire times after `after`, ascending and
// distinct; fewer if the schedule ends.
func (s *Schedule) NextN(after time.Time, n int) []time.Time {
	var out []time.Time
	for range max(n, 0) {
		t := s.Next(after)
		if t.IsZero() {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}
