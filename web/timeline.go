package web

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/deprov/deprov/store"
)

// timeline is the picture of pending revocations along their grace
// periods: one bar per revocation from when it was scheduled to when it is
// due, a line at now, coloured by state. It is drawn server-side as inline
// SVG, in a coordinate system of Width × Height user units.
type timeline struct {
	Width, Height float64
	// PlotX is where the time axis starts (labels are to its left); the
	// plot is PlotW × PlotH from (PlotX, AxisY).
	PlotX, PlotEnd, PlotW, PlotH float64
	AxisY, TickY, NowLabelY      float64
	// RowH and BarH are a row's and a bar's height; SubX is where the
	// second part of a row's label ends.
	RowH, BarH, SubX float64
	Ticks            []tick
	Bars             []bar
	NowX             float64
	NowLabel         string
	// More counts revocations not drawn (the timeline draws maxBars).
	More       int
	Start, End time.Time
}

type tick struct {
	X     float64
	Label string
}

// bar is one revocation on the timeline.
type bar struct {
	// RowY is the row's top, Y the bar's; X and W the bar's extent; DueX
	// its due mark; TextY the labels' baseline and MidY the bar's middle.
	RowY, Y, X, W, DueX, TextY, MidY float64
	Label, Sub                       string
	State                            string
	// Inner names the rule inside the bar, when the bar is long enough.
	Inner          string
	InnerX, InnerY float64
	// Title is the tooltip (and what a screen reader says).
	Title string
	Href  string
}

// Timeline geometry, in SVG user units.
const (
	tlWidth    = 1000.0
	tlLabelW   = 250.0
	tlRight    = 24.0
	tlTop      = 34.0
	tlRowH     = 30.0
	tlBarH     = 14.0
	tlBottom   = 30.0
	maxBars    = 40
	minSpan    = 24 * time.Hour
	tickTarget = 9
	tickEdge   = 30.0
)

// tickSteps are the tick intervals the axis may use, smallest first.
var tickSteps = []time.Duration{
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour,
	91 * 24 * time.Hour, 365 * 24 * time.Hour,
}

// newTimeline lays out the revocations (scheduled, running, waiting) as
// of now. graces gives each rule's grace period, for the tooltips.
func newTimeline(revs []store.Revocation, now time.Time, graces map[string]int) *timeline {
	if len(revs) == 0 {
		return nil
	}
	revs = slices.Clone(revs)
	slices.SortStableFunc(revs, func(a, b store.Revocation) int {
		return cmp.Or(a.DueAt.Compare(b.DueAt), cmp.Compare(a.ID, b.ID))
	})
	t := &timeline{Width: tlWidth, PlotX: tlLabelW, PlotEnd: tlWidth - tlRight, AxisY: tlTop - 8, TickY: tlTop - 16,
		RowH: tlRowH, BarH: tlBarH, SubX: tlLabelW - 14}
	t.PlotW = t.PlotEnd - t.PlotX
	if len(revs) > maxBars {
		t.More = len(revs) - maxBars
		revs = revs[:maxBars]
	}
	start, end := now, now
	for _, r := range revs {
		if !r.CreatedAt.IsZero() && r.CreatedAt.Before(start) {
			start = r.CreatedAt
		}
		if r.DueAt.After(end) {
			end = r.DueAt
		}
	}
	if span := end.Sub(start); span < minSpan {
		end = start.Add(minSpan)
	}
	pad := end.Sub(start) / 25
	start, end = start.Add(-pad), end.Add(pad)
	t.Start, t.End = start, end
	x := func(at time.Time) float64 {
		return r1(t.PlotX + (t.PlotEnd-t.PlotX)*float64(at.Sub(start))/float64(end.Sub(start)))
	}
	t.Ticks = ticks(start, end, x)
	t.NowX, t.NowLabel = x(now), "now · "+now.UTC().Format("2 Jan 15:04 UTC")
	for i, r := range revs {
		created := r.CreatedAt
		if created.IsZero() || created.After(r.DueAt) {
			created = r.DueAt
		}
		rowY := tlTop + float64(i)*tlRowH
		b := bar{
			RowY: rowY, Y: rowY + (tlRowH-tlBarH)/2, X: x(created), DueX: x(r.DueAt),
			TextY: rowY + tlRowH/2 + 4, MidY: rowY + tlRowH/2,
			Label: r.UserName, Sub: fmt.Sprintf("%s · %s", r.ApplicationID, r.Action),
			State: string(r.State), Href: fmt.Sprintf("/runs/%d", r.RunID),
		}
		b.W = r1(max(b.DueX-b.X, 3))
		grace, inner := "", r.RuleID
		if g, ok := graces[r.RuleID]; ok {
			grace = fmt.Sprintf(", grace period %d days", g)
			inner = fmt.Sprintf("%s · %d-day grace", r.RuleID, g)
		}
		// About 6.2 units a character at the inner label's size.
		if float64(len(inner))*6.2+24 <= b.W {
			b.Inner, b.InnerX, b.InnerY = inner, b.X+8, b.TextY-0.5
		}
		b.Title = fmt.Sprintf("%s: %s in %s, %s. Rule %s%s. Scheduled %s, due %s (%s).",
			r.UserName, r.Action, r.ApplicationID, r.State, r.RuleID, grace,
			fmtTime(r.CreatedAt), fmtTime(r.DueAt), relTime(now, r.DueAt))
		t.Bars = append(t.Bars, b)
	}
	t.Height = tlTop + float64(len(t.Bars))*tlRowH + tlBottom
	t.PlotH = t.Height - tlBottom + 4 - t.AxisY
	t.NowLabelY = t.Height - 10
	return t
}

// r1 rounds a coordinate to a tenth of a unit, which keeps the SVG small.
func r1(v float64) float64 { return math.Round(v*10) / 10 }

// ticks places axis marks at round times between start and end.
func ticks(start, end time.Time, x func(time.Time) float64) []tick {
	span := end.Sub(start)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= tickTarget {
			step = s
			break
		}
	}
	format := "Mon 2 Jan"
	switch {
	case step < 24*time.Hour:
		format = "2 Jan 15:04"
	case step >= 30*24*time.Hour:
		format = "Jan 2006"
	}
	var out []tick
	for at := start.UTC().Truncate(step); !at.After(end); at = at.Add(step) {
		if at.Before(start) {
			continue
		}
		t := tick{X: x(at), Label: at.Format(format)}
		if t.X > x(end)-tickEdge || t.X < x(start)+tickEdge {
			t.Label = "" // it would be cut at the plot's edge
		}
		out = append(out, t)
	}
	return out
}
