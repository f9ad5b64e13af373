package schedule

import "time"

// maxZonePeriods bounds Next's walk over a zone's offset periods; real
// zones change offset at most a few times a year, and the engines give up
// after 400 years.
const maxZonePeriods = 4000

// Next returns the first fire time strictly after `after`, in the
// schedule's zone, or the zero time if there is none (a Quartz year field
// wholly in the past, or nothing within 400 years). It implements River's
// PeriodicSchedule.
//
// Fire times follow the wall clock in the schedule's zone. Across a DST
// change they behave as in Vixie cron, which tells fixed-time jobs (minute
// and hour fields are plain values, lists or ranges: "0 30 2 * * ?") from
// interval jobs (minute or hour is "*" or a step: "*/15 * * * *"):
//
//   - Clocks go forward (02:00 becomes 03:00): a fixed-time job due in the
//     skipped hour fires once, at the change (03:00 new time); an interval
//     job just has no fire times in the skipped hour.
//   - Clocks go back (03:00 becomes 02:00): a fixed-time job due in the
//     repeated hour fires only the first time round; an interval job fires
//     both times round, so "every 30 minutes" stays every 30 minutes.
func (s *Schedule) Next(after time.Time) (next time.Time) {
	defer func() {
		if recover() != nil { // a library panic must not take down the scheduler
			next = time.Time{}
		}
	}()

	// fireFrom returns the first civil fire time at or after from. Walking
	// the zone's periods asks the same question many times over when the
	// next fire is years away, so the last answer is kept.
	var memoFrom, memoFire time.Time
	memoSet := false
	fireFrom := func(from time.Time) time.Time {
		if memoSet && !from.Before(memoFrom) && (memoFire.IsZero() || !from.After(memoFire)) {
			return memoFire
		}
		memoFrom, memoFire, memoSet = from, s.eng.next(from.Add(-time.Nanosecond)), true
		return memoFire
	}

	// Within one period of constant UTC offset, civil time and instants
	// map one to one; the periods' seams are the DST changes.
	after = after.Round(0)
	t := after.In(s.loc)
	from := civil(t).Add(time.Nanosecond)
	for range maxZonePeriods {
		start, end := zoneBounds(t)
		_, off := t.Zone()
		if !start.IsZero() && !s.interval {
			_, prevOff := start.Add(-time.Nanosecond).Zone()
			switch {
			case prevOff < off && start.After(after):
				// Wall times [start+prevOff, start+off) never happened.
				if c := fireFrom(civilAt(start, prevOff)); !c.IsZero() && c.Before(civilAt(start, off)) {
					return start
				}
			case prevOff > off:
				// Wall times [start+off, start+prevOff) already happened
				// once, before start.
				if seen := civilAt(start, prevOff); from.Before(seen) {
					from = seen
				}
			}
		}
		c := fireFrom(from)
		if c.IsZero() {
			return time.Time{}
		}
		if end.IsZero() || c.Before(civilAt(end, off)) {
			return c.Add(-time.Duration(off) * time.Second).In(s.loc)
		}
		t = end
		from = civil(t)
	}
	return time.Time{}
}

// zoneBounds is t.ZoneBounds, except that end is always zero or after t.
// Go can report an end at or before t on the last UTC day of a leap year
// that a zone's TZ footer rule serves (2040 in Europe/Berlin;
// golang/go#81583), which would stall the walk in Next. The offset does not
// change there, so the start of the next UTC day serves as a harmless
// boundary between two periods of the same offset.
func zoneBounds(t time.Time) (start, end time.Time) {
	start, end = t.ZoneBounds()
	if !end.IsZero() && !end.After(t) {
		y, m, d := t.UTC().Date()
		end = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).In(t.Location())
	}
	return start, end
}

// civil returns t's wall clock reading, carried in UTC.
func civil(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
}

// civilAt returns the wall clock reading at instant under UTC offset off
// (seconds east).
func civilAt(instant time.Time, off int) time.Time {
	return instant.UTC().Add(time.Duration(off) * time.Second)
}
