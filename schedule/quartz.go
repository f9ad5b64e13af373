package schedule

import (
	"math/bits"
	"strings"
	"time"
)

// Quartz expressions are evaluated here rather than by go-quartz
// (github.com/reugn/go-quartz v0.15.2), whose CronTrigger gets ordinary
// schedules wrong (the tests pin our answers for each case):
//
//   - the hour field runs up to 59, and time.Date rolls hour 24 into the next
//     day, so "0 0 * ? * MON" also fires at 00:00 on Tuesday and
//     "0 0 * 1 * ?" at 00:00 on the 2nd;
//   - a day-of-month past the month's end rolls into the next month:
//     "0 0 0 29 2 ?" fires on 1 March in common years, "0 0 0 31 2,4 ?" on
//     2 March and 1 May;
//   - "L" alone in day-of-week means the last Saturday of the month, where
//     Quartz says it means "7", every Saturday;
//   - "0 0 12 * * 1" is accepted (a day-of-month "*" counts as unset) and
//     "?" is accepted in every field, where Quartz requires "?" in exactly
//     one of day-of-month and day-of-week and nowhere else;
//   - n#5 misses the next month that has a fifth such weekday when the
//     search starts in a month that has none: after 30 December 2023,
//     "0 0 9 ? * 2#5" gives 29 April 2024, not 29 January;
//   - years run to 3940, and NextFireTime works in int64 nanoseconds, so any
//     year after 2262 yields garbage (year 3000 gives 1830).
//
// Elsewhere, "n#k", "nL", "L-n", "nW", "LW" and the year field included, our
// results agree with it (TestQuartzAgreesWithGoQuartz).

// Quartz's own limits for the optional year field.
const (
	quartzMinYear = 1970
	quartzMaxYear = 2099
)

// domMode is how a Quartz day-of-month field picks days.
type domMode int

const (
	domList        domMode = iota // days in dom
	domLast                       // L or L-n: the last day minus n
	domWeekday                    // nW: the weekday nearest day n, within the month
	domLastWeekday                // LW: the last weekday of the month
)

// dowMode is how a Quartz day-of-week field picks days.
type dowMode int

const (
	dowList dowMode = iota // weekdays in dow
	dowLast                // nL: the last such weekday of the month
	dowNth                 // n#k: the k-th such weekday of the month
)

// quartzSpec is a parsed Quartz expression, in civil time: it knows nothing
// of time zones (Schedule.Next maps civil times to instants).
type quartzSpec struct {
	second, minute, hour uint64
	months               uint64 // bits 1-12
	years                []bool // index year-quartzMinYear; nil means any year

	byDOW   bool // day-of-month is "?": the day-of-week field picks days
	domMode domMode
	dom     uint64 // bits 1-31, for domList
	domN    int    // n of L-n and nW

	dowMode dowMode
	dow     uint64       // bits 0-6 from Sunday, for dowList
	weekday time.Weekday // for dowLast and dowNth
	nth     int          // k of n#k
}

var quartzFields = [7]field{
	{pos: 1, name: "second", min: 0, max: 59},
	{pos: 2, name: "minute", min: 0, max: 59},
	{pos: 3, name: "hour", min: 0, max: 23},
	{pos: 4, name: "day-of-month", min: 1, max: 31},
	{pos: 5, name: "month", min: 1, max: 12, names: monthNames, nameHint: "month name (JAN-DEC)"},
	{pos: 6, name: "day-of-week", min: 1, max: 7, names: quartzDayNames, nameHint: "day name (SUN-SAT)"},
	{pos: 7, name: "year", min: quartzMinYear, max: quartzMaxYear},
}

// parseQuartz reads 6 or 7 fields: second minute hour day-of-month month
// day-of-week [year].
func parseQuartz(fs []string) (*quartzSpec, error) {
	q := &quartzSpec{}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	plain := func(i int, dst *uint64) {
		if fs[i] == "?" {
			add(quartzFields[i].errorf(fs[i], `"?" is allowed only in day-of-month or day-of-week`))
			return
		}
		vals, err := quartzFields[i].parseList(fs[i])
		add(err)
		*dst = bitset(vals)
	}
	plain(0, &q.second)
	plain(1, &q.minute)
	plain(2, &q.hour)
	add(q.parseDOM(fs[3]))
	plain(4, &q.months)
	add(q.parseDOW(fs[5]))
	if len(fs) == 7 {
		add(q.parseYear(fs[6]))
	}

	// Quartz cannot combine the two day fields: exactly one must be "?".
	dom, dow := quartzFields[3], quartzFields[5]
	switch {
	case fs[3] == "?" && fs[5] == "?":
		add(dow.errorf(fs[5], `"?" may stand in only one of day-of-month and day-of-week; give the other a value (e.g. "*")`))
	case fs[3] != "?" && fs[5] != "?":
		fix := `Quartz cannot combine the two; put "?" in one of them`
		switch {
		case fs[3] == "*":
			fix = `write "?" there to fire on these weekdays`
		case fs[5] == "*":
			fix = `write "?" here to fire on those days of the month`
		}
		add(dow.errorf(fs[5], `Quartz needs "?" in day-of-month or day-of-week, but day-of-month is %q (%s)`, fs[3], fix))
	}
	if len(errs) == 0 && !q.byDOW {
		add(neverOccurs(dom, fs[3], q.domMode, q.dom, q.domN, q.months))
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return q, nil
}

func (q *quartzSpec) parseDOM(text string) error {
	f := quartzFields[3]
	switch {
	case text == "?":
		q.byDOW = true
	case text == "L":
		q.domMode = domLast
	case text == "LW":
		q.domMode = domLastWeekday
	case strings.HasPrefix(text, "L-"):
		n, ok := atoi(text[2:])
		if !ok || n < 1 || n > 30 {
			return f.errorf(text, "L-n needs n in 1-30")
		}
		q.domMode, q.domN = domLast, n
	case strings.HasSuffix(text, "W"):
		n, ok := atoi(text[:len(text)-1])
		if !ok {
			return f.errorf(text, "W follows one day number, as in 15W (or LW for the last weekday)")
		}
		if n < 1 || n > 31 {
			return f.errorf(text, "value %d out of range 1-31", n)
		}
		q.domMode, q.domN = domWeekday, n
	case strings.ContainsAny(text, "LW") && strings.Trim(text, "0123456789,-/*LW") == "":
		return f.errorf(text, "L and W stand alone (L, L-n, nW or LW), not in lists or ranges")
	default:
		vals, err := f.parseList(text)
		if err != nil {
			return err
		}
		q.dom = bitset(vals)
	}
	return nil
}

func (q *quartzSpec) parseDOW(text string) error {
	f := quartzFields[5]
	// Quartz: "L" alone is 7 (Saturday); after a day, the last such day.
	if text == "?" {
		return nil // day-of-month picks days
	}
	if text == "L" {
		q.dow = 1 << time.Saturday
		return nil
	}
	if day, ok := strings.CutSuffix(text, "L"); ok && !strings.ContainsAny(day, ",-/#*") {
		v, err := f.value(text, day)
		if err != nil {
			return err
		}
		q.dowMode, q.weekday = dowLast, time.Weekday(v-1)
		return nil
	}
	if day, nth, ok := strings.Cut(text, "#"); ok {
		if strings.ContainsAny(day, ",-/*") {
			return f.errorf(text, "# follows one day, as in 6#3 (third Friday)")
		}
		v, err := f.value(text, day)
		if err != nil {
			return err
		}
		k, ok := atoi(nth)
		if !ok || k < 1 || k > 5 {
			return f.errorf(text, "n#k needs k in 1-5")
		}
		q.dowMode, q.weekday, q.nth = dowNth, time.Weekday(v-1), k
		return nil
	}
	vals, err := f.parseList(text)
	if err != nil {
		return err
	}
	for _, v := range vals {
		q.dow |= 1 << uint(v-1)
	}
	return nil
}

func (q *quartzSpec) parseYear(text string) error {
	if text == "*" {
		return nil
	}
	f := quartzFields[6]
	if text == "?" {
		return f.errorf(text, `"?" is allowed only in day-of-month or day-of-week`)
	}
	vals, err := f.parseList(text)
	if err != nil {
		return err
	}
	q.years = make([]bool, quartzMaxYear-quartzMinYear+1)
	for _, v := range vals {
		q.years[v-quartzMinYear] = true
	}
	return nil
}

// neverOccurs refuses a day-of-month no chosen month has, such as 30 in
// February: the libraries accept it and then never fire (robfig) or fire
// on the wrong day (go-quartz).
func neverOccurs(f field, text string, mode domMode, dom uint64, n int, months uint64) error {
	for m := 1; m <= 12; m++ {
		if months&(1<<uint(m)) == 0 {
			continue
		}
		last := maxDays(time.Month(m))
		switch mode {
		case domList:
			if dom&(1<<uint(last+1)-1) != 0 {
				return nil
			}
		case domLast:
			if last-n >= 1 {
				return nil
			}
		default:
			return nil
		}
	}
	return f.errorf(text, "no such day in the chosen month(s), so it would never fire")
}

// maxDays is the longest a month can be (February: 29).
func maxDays(m time.Month) int {
	return time.Date(2000, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// next returns the first civil time strictly after `after` (read as wall
// clock in UTC) that the expression selects, or the zero time if there is
// none within 400 years (a full Gregorian cycle) or none at all.
func (q *quartzSpec) next(after time.Time) time.Time {
	t := after.Truncate(time.Second).Add(time.Second)
	if t.Year() < quartzMinYear {
		t = time.Date(quartzMinYear, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	limit := t.Year() + 400
	for t.Year() <= limit {
		y, m, d := t.Date()
		if !q.yearOK(y) {
			ny, ok := q.nextYear(y)
			if !ok {
				return time.Time{}
			}
			t = time.Date(ny, 1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if q.months&(1<<uint(m)) == 0 {
			t = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if q.dayOK(y, m, d) {
			if hh, mm, ss, ok := q.timeOfDay(t.Clock()); ok {
				return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
			}
		}
		t = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

func (q *quartzSpec) yearOK(y int) bool {
	if q.years == nil {
		return true
	}
	i := y - quartzMinYear
	return i >= 0 && i < len(q.years) && q.years[i]
}

func (q *quartzSpec) nextYear(y int) (int, bool) {
	for i := max(y+1-quartzMinYear, 0); i < len(q.years); i++ {
		if q.years[i] {
			return quartzMinYear + i, true
		}
	}
	return 0, false
}

func (q *quartzSpec) dayOK(y int, m time.Month, d int) bool {
	last := daysIn(y, m)
	if !q.byDOW {
		switch q.domMode {
		case domLast:
			return d == last-q.domN
		case domWeekday:
			return d == nearestWeekday(y, m, min(q.domN, last))
		case domLastWeekday:
			return d == nearestWeekday(y, m, last)
		default:
			return q.dom&(1<<uint(d)) != 0
		}
	}
	wd := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()
	switch q.dowMode {
	case dowLast:
		return wd == q.weekday && d+7 > last
	case dowNth:
		return wd == q.weekday && (d-1)/7+1 == q.nth
	default:
		return q.dow&(1<<uint(wd)) != 0
	}
}

// nearestWeekday is Quartz's nW: day d if it is a weekday, else the nearest
// weekday without leaving the month (1W on a Saturday is Monday the 3rd).
// A day past the month's end (31W in April) counts as the last day, as
// go-quartz does; Java Quartz's result there depends on calendar leniency.
func nearestWeekday(y int, m time.Month, d int) int {
	last := daysIn(y, m)
	switch time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if d == 1 {
			return 3
		}
		return d - 1
	case time.Sunday:
		if d == last {
			return d - 2
		}
		return d + 1
	}
	return d
}

// timeOfDay finds the first selected time of day at or after h:m:s.
func (q *quartzSpec) timeOfDay(h, m, s int) (int, int, int, bool) {
	return firstTimeOfDay(q.hour, q.minute, q.second, h, m, s)
}

func firstTimeOfDay(hours, minutes, seconds uint64, h, m, s int) (int, int, int, bool) {
	for hh := nextBit(hours, h); hh >= 0 && hh < 24; hh = nextBit(hours, hh+1) {
		m0 := 0
		if hh == h {
			m0 = m
		}
		for mm := nextBit(minutes, m0); mm >= 0 && mm < 60; mm = nextBit(minutes, mm+1) {
			s0 := 0
			if hh == h && mm == m {
				s0 = s
			}
			if ss := nextBit(seconds, s0); ss >= 0 && ss < 60 {
				return hh, mm, ss, true
			}
		}
	}
	return 0, 0, 0, false
}

// nextBit returns the lowest set bit at or above from, or -1.
func nextBit(set uint64, from int) int {
	if from >= 64 {
		return -1
	}
	rest := set >> uint(from)
	if rest == 0 {
		return -1
	}
	return from + bits.TrailingZeros64(rest)
}
