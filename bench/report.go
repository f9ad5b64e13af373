package bench

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// Report prints one figure as `BENCH <name> <value> <unit>`, the line
// ./scripts/bench collects, and records it as a benchmark metric too.
func Report(b *testing.B, name string, value float64, unit string) {
	b.Helper()
	fmt.Printf("BENCH %s %s %s\n", name, Format(value), unit)
	b.ReportMetric(value, name+"_"+unit)
}

// Format writes a figure with the digits that mean something: three
// significant ones for small values, whole numbers from 100 up, and never
// an exponent (scripts read these lines).
func Format(v float64) string {
	a := math.Abs(v)
	prec := 0
	switch {
	case a == 0 || a >= 100:
		prec = 0
	case a >= 10:
		prec = 1
	case a >= 1:
		prec = 2
	default:
		prec = 3
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}
