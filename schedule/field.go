package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// field describes one position of a cron expression: where it is, what it
// is called in error messages, and which values it takes.
type field struct {
	pos      int    // 1-based position in the expression as written
	name     string // "day-of-month"
	min, max int
	names    map[string]int // upper-case names (JAN, MON) to values
	// nameHint completes "not a number or …" in error messages.
	nameHint string
	// crontab marks the fields of a 5-field line, whose errors point out
	// Quartz-only syntax.
	crontab bool
}

// fieldError says which field of an expression is wrong and why.
type fieldError struct {
	pos   int
	name  string
	value string
	msg   string
}

func (e *fieldError) Error() string {
	return fmt.Sprintf("field %d (%s) %q: %s", e.pos, e.name, e.value, e.msg)
}

func (f field) errorf(value, format string, args ...any) error {
	return &fieldError{pos: f.pos, name: f.name, value: value, msg: fmt.Sprintf(format, args...)}
}

var (
	monthNames = map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}
	// crontab numbers weekdays 0-7 from Sunday; Quartz 1-7 from Sunday.
	crontabDayNames = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
	quartzDayNames  = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

// parseList reads a comma-separated list of values, ranges (a-b) and steps
// (*/n, a/n, a-b/n) and returns every value it selects. Ranges do not wrap
// around (22-2 is an error, as in crontab and go-quartz), and a step must be
// smaller than the field's span: "*/90" in the minute field is refused rather
// than silently meaning "0".
func (f field) parseList(text string) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(text, ",") {
		vals, err := f.parseItem(text, item)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

func (f field) parseItem(text, item string) ([]int, error) {
	if item == "" {
		return nil, f.errorf(text, "empty item in list")
	}
	base, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, ok := atoi(stepText)
		if !ok {
			return nil, f.errorf(text, "step %q is not a number", stepText)
		}
		if n < 1 || n > f.max-f.min {
			return nil, f.errorf(text, "step %d out of range 1-%d", n, f.max-f.min)
		}
		step = n
	}
	var lo, hi int
	if base == "*" {
		lo, hi = f.min, f.max
	} else if a, b, isRange := strings.Cut(base, "-"); isRange {
		var err error
		if lo, err = f.value(text, a); err != nil {
			return nil, err
		}
		if hi, err = f.value(text, b); err != nil {
			return nil, err
		}
		if lo > hi {
			return nil, f.errorf(text, "range %s starts after it ends (ranges do not wrap around)", base)
		}
	} else {
		var err error
		if lo, err = f.value(text, base); err != nil {
			return nil, err
		}
		hi = lo
		if hasStep { // "a/n" means "a-max/n"
			hi = f.max
		}
	}
	var out []int
	for v := lo; v <= hi; v += step {
		out = append(out, v)
	}
	return out, nil
}

// value reads one number or name and checks its range. text is the whole
// field, for the error message.
func (f field) value(text, s string) (int, error) {
	if s == "" {
		return 0, f.errorf(text, "missing value")
	}
	n, ok := atoi(s)
	if !ok {
		if v, found := f.names[strings.ToUpper(s)]; found {
			return v, nil
		}
		if isSpecial(s) {
			if f.crontab {
				return 0, f.errorf(text, "%q is Quartz syntax; a 5-field crontab line has no ?, L, W or # (write 6 or 7 fields for Quartz)", s)
			}
			return 0, f.errorf(text, "%q is not allowed here", s)
		}
		if f.nameHint != "" {
			return 0, f.errorf(text, "%q is not a number or %s", s, f.nameHint)
		}
		return 0, f.errorf(text, "%q is not a number", s)
	}
	if n < f.min || n > f.max {
		if s == text {
			return 0, f.errorf(text, "value out of range %d-%d", f.min, f.max)
		}
		return 0, f.errorf(text, "value %d out of range %d-%d", n, f.min, f.max)
	}
	return n, nil
}

// isSpecial reports whether s is Quartz's ?, L, W or # syntax (as opposed to a
// misspelt number or name).
func isSpecial(s string) bool {
	if strings.ContainsAny(s, "?#") || s == "L" || s == "W" || s == "LW" {
		return true
	}
	last := s[len(s)-1]
	_, digits := atoi(s[:len(s)-1])
	return (last == 'L' || last == 'W') && digits
}

// atoi reads plain decimal digits only: no sign, no spaces, at most 9 digits
// (so it cannot overflow).
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// bitset turns values (each below 64) into a bit set.
func bitset(vals []int) uint64 {
	var b uint64
	for _, v := range vals {
		b |= 1 << uint(v)
	}
	return b
}

// isInterval reports whether a minute or hour field fires by elapsed time
// rather than at a fixed time of day: a wildcard or a step. This is the
// distinction Vixie cron draws at DST changes (see Schedule.Next).
func isInterval(text string) bool { return strings.ContainsAny(text, "*/") }
