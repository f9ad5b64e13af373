package schedule

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// A 5-field line is parsed here and evaluated by robfig/cron's SpecSchedule,
// built from our own parse. robfig's parser is not used: it refuses 7 for
// Sunday, accepts Quartz "?" and "TZ=" prefixes, names no field in its
// errors, and treats "*/2" as a restriction when deciding how day-of-month
// and day-of-week combine, where crontab(5) treats any field starting with
// "*" as unrestricted. Its Next is run in UTC on civil times, where it is
// right; time zones are Schedule.Next's job, because robfig in a DST zone
// skips a 02:30 job on the spring-forward day and runs a 01:30 job twice on
// the fall-back day. It gives up after five years, so next asks again.

var crontabFields = [5]field{
	{pos: 1, name: "minute", min: 0, max: 59, crontab: true},
	{pos: 2, name: "hour", min: 0, max: 23, crontab: true},
	{pos: 3, name: "day-of-month", min: 1, max: 31, crontab: true},
	{pos: 4, name: "month", min: 1, max: 12, names: monthNames, nameHint: "month name (JAN-DEC)", crontab: true},
	{pos: 5, name: "day-of-week", min: 0, max: 7, names: crontabDayNames, nameHint: "day name (SUN-SAT)", crontab: true},
}

// descriptors are the crontab(5) shorthands, as the 5-field lines they
// stand for. @reboot and robfig's @every have no place in a schedule.
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// robfigStarBit is robfig's unexported starBit: set on Dom or Dow, it marks
// the field unrestricted, so the other day field alone decides.
const robfigStarBit = 1 << 63

type crontabSpec struct {
	spec cron.SpecSchedule
}

// parseCrontab reads minute hour day-of-month month day-of-week.
func parseCrontab(fs []string) (*crontabSpec, error) {
	var (
		errs []error
		sets [5]uint64
	)
	for i, f := range crontabFields {
		vals, err := f.parseList(fs[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sets[i] = bitset(vals)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	dow := sets[4]
	if dow&(1<<7) != 0 { // 7 is Sunday too
		dow = dow&^(1<<7) | 1
	}
	// crontab(5): if either day field starts with "*", a day must match
	// both; if both are restricted, either may match.
	domStar, dowStar := strings.HasPrefix(fs[2], "*"), strings.HasPrefix(fs[4], "*")
	if domStar || dowStar {
		if err := neverOccurs(crontabFields[2], fs[2], domList, sets[2], 0, sets[3]); err != nil {
			return nil, err
		}
	}
	c := &crontabSpec{spec: cron.SpecSchedule{
		Second:   1, // second 0
		Minute:   sets[0],
		Hour:     sets[1],
		Dom:      sets[2],
		Month:    sets[3],
		Dow:      dow,
		Location: time.UTC,
	}}
	if domStar {
		c.spec.Dom |= robfigStarBit
	}
	if dowStar {
		c.spec.Dow |= robfigStarBit
	}
	return c, nil
}

// next returns the first civil time strictly after `after` (wall clock read
// as UTC), or the zero time if there is none within 400 years.
func (c *crontabSpec) next(after time.Time) time.Time {
	from := after
	for range 80 { // robfig looks five years ahead per call
		if t := c.spec.Next(from); !t.IsZero() {
			return t
		}
		from = time.Date(from.Year()+6, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
	}
	return time.Time{}
}
