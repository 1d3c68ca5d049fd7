package plot

import (
	"math"
	"strconv"
	"strings"
)

// axis maps values to fractions of a plot's side. A logarithmic axis works
// in decades: its lo, hi and tick positions are log10 of the values.
type axis struct {
	lo, hi float64
	log    bool
	ticks  []tick    // labelled, with a grid line
	minor  []float64 // grid lines only, in axis units
}

type tick struct {
	at    float64 // in axis units
	label string
}

// farOut bounds how far outside the plot a value is placed, in plot
// sides. The clip path hides anything beyond the plot; the bound only
// keeps coordinates small enough for every renderer, and moves a line
// leaving the plot by well under a pixel.
const farOut = 1000

// frac places v (a value, not log10 of one) on the axis: 0 at lo, 1 at hi.
func (a axis) frac(v float64) float64 {
	if a.log {
		v = snapLog10(v)
	}
	f := (v - a.lo) / (a.hi - a.lo)
	if math.IsNaN(f) {
		return 0
	}
	return min(max(f, -farOut), farOut)
}

// fracAt places a position already in axis units.
func (a axis) fracAt(at float64) float64 {
	return min(max((at-a.lo)/(a.hi-a.lo), -farOut), farOut)
}

// snapTolerance absorbs floating-point error where a value is meant to be a
// whole number of steps or decades (log10(1e15) is 14.999999999999998).
const snapTolerance = 1e-9

func snap(v float64) float64 {
	if r := math.Round(v); math.Abs(v-r) < snapTolerance {
		return r
	}
	return v
}

func snapLog10(v float64) float64 { return snap(math.Log10(v)) }

// niceStep is the step of 1, 2 or 5 times a power of ten that cuts span
// into about target intervals.
func niceStep(span float64, target int) float64 {
	raw := span / float64(max(target, 1))
	base := math.Pow(10, math.Floor(math.Log10(raw)))
	if !(raw > 0) || !finite(raw) || !(base > 0) || !finite(base) {
		return raw
	}
	var m float64
	switch f := raw / base; {
	case f < 1.5:
		m = 1
	case f < 3:
		m = 2
	case f < 7:
		m = 5
	default:
		m = 10
	}
	return m * base
}

// yBounds picks the data range of a value axis before it is made nice:
// from the values (and reference lines), from zero when anchorZero and the
// values all lie on one side of it, and pinned where the chart fixes it.
// A range of one value is widened around it.
func yBounds(values []float64, anchorZero bool, fixedMin, fixedMax *float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	if len(values) == 0 {
		lo, hi = 0, 1
	}
	if anchorZero {
		lo, hi = min(lo, 0), max(hi, 0)
	}
	if fixedMin != nil {
		lo = *fixedMin
	}
	if fixedMax != nil {
		hi = *fixedMax
	}
	if hi <= lo {
		spread := func(v float64) float64 {
			if v == 0 {
				return 1
			}
			return math.Abs(v) / 2
		}
		switch {
		case fixedMin == nil && fixedMax == nil && anchorZero && lo == 0:
			hi = 1 // nothing but zeros
		case fixedMin == nil && fixedMax == nil:
			d := spread(lo) // one value: centre it
			lo, hi = lo-d, hi+d
		case fixedMax == nil:
			hi = lo + spread(lo)
		default: // only YMax is fixed; checkBounds refuses YMin >= YMax
			lo = hi - spread(hi)
		}
	}
	return lo, hi
}

// linearAxis makes an axis over lo..hi with ticks at nice numbers, about
// target of them. Ends not fixed are rounded out to a tick.
func linearAxis(lo, hi float64, fixLo, fixHi bool, target int) (axis, error) {
	if span := hi - lo; !finite(span) || !(span > 0) {
		return axis{}, invalid("values from %g to %g do not make a range a float64 can hold", lo, hi)
	}
	step := niceStep(hi-lo, target)
	if !fixLo {
		if v := math.Floor(snap(lo/step)) * step; finite(v) {
			lo = v
		}
	}
	if !fixHi {
		if v := math.Ceil(snap(hi/step)) * step; finite(v) {
			hi = v
		}
	}
	if span := hi - lo; !finite(span) {
		return axis{}, invalid("values from %g to %g do not make a range a float64 can hold", lo, hi)
	}
	var at []float64
	if first := math.Ceil(snap(lo / step)); finite(first) && step > 0 {
		for i := 0; i < 50; i++ {
			v := (first + float64(i)) * step
			if v > hi+step*snapTolerance || !finite(v) {
				break
			}
			if math.Abs(v) < step*snapTolerance {
				v = 0
			}
			at = append(at, v)
		}
	}
	if len(at) < 2 {
		// The step is lost to rounding at this magnitude: label the ends.
		at, step = []float64{lo, hi}, hi-lo
	}
	a := axis{lo: lo, hi: hi}
	for i, label := range tickLabels(at, step) {
		a.ticks = append(a.ticks, tick{at: at[i], label: label})
	}
	return a, nil
}

// logAxis makes a logarithmic axis over minV..maxV (both positive), its
// ends rounded out to whole decades unless fixed. It is labelled at powers
// of ten: every one while they are few, every few beyond about target, and
// at 2 and 5 times them too when there are fewer than three.
func logAxis(minV, maxV float64, fixLo, fixHi bool, target int) axis {
	lo, hi := snapLog10(minV), snapLog10(maxV)
	if !fixLo {
		lo = math.Floor(lo)
	}
	if !fixHi {
		hi = math.Ceil(hi)
	}
	if lo >= hi {
		switch {
		case !fixLo && !fixHi:
			lo, hi = lo-1, hi+1 // one value, on a power of ten: centre it
		case !fixHi:
			hi = math.Floor(lo) + 1
		default:
			lo = math.Ceil(hi) - 1
		}
	}
	a := axis{lo: lo, hi: hi, log: true}
	decades := hi - lo
	every := max(1, int(math.Ceil(decades/float64(max(target, 1))-snapTolerance)))
	within := func(at float64) bool { return at >= lo-snapTolerance && at <= hi+snapTolerance }
	first := math.Ceil(lo - snapTolerance)
	// With fewer than three powers of ten on the axis, 2 and 5 times them
	// are labelled as well.
	fewPowers := math.Floor(hi+snapTolerance)-first < 2
	for power := math.Floor(lo); power <= hi; power++ {
		if within(power) && int(power-first)%every == 0 {
			a.ticks = append(a.ticks, tick{at: power, label: powerLabel(int(power), 1)})
		}
		if decades > 6 {
			continue
		}
		for m := 2; m <= 9; m++ {
			at := power + math.Log10(float64(m))
			switch {
			case !within(at):
			case fewPowers && (m == 2 || m == 5):
				a.ticks = append(a.ticks, tick{at: at, label: powerLabel(int(power), m)})
			default:
				a.minor = append(a.minor, at)
			}
		}
	}
	if len(a.ticks) < 2 {
		// A fixed range too narrow to hold two of those: label its ends.
		a.ticks = []tick{
			{at: lo, label: valueLabel(math.Pow(10, lo))},
			{at: hi, label: valueLabel(math.Pow(10, hi))},
		}
	}
	return a
}

// powerLabel writes m·10^k.
func powerLabel(k, m int) string {
	if k < -4 || k > 14 {
		if m == 1 {
			return "1e" + strconv.Itoa(k)
		}
		return strconv.Itoa(m) + "e" + strconv.Itoa(k)
	}
	p := math.Pow(10, float64(k))
	return tickLabels([]float64{float64(m) * p}, p)[0]
}

// tickLabels writes an axis's tick values alike: with as many decimals as
// the step needs, large ones in k, M, G or T, and extreme ones in
// exponent form.
func tickLabels(at []float64, step float64) []string {
	largest := 0.0
	for _, v := range at {
		largest = max(largest, math.Abs(v))
	}
	labels := make([]string, len(at))
	if largest >= 1e15 || (largest > 0 && largest < 1e-4) || !(step > 0) {
		digits := 3
		if step > 0 && largest > 0 {
			digits = min(max(int(math.Ceil(math.Log10(largest/step)))+1, 1), 15)
		}
		for i, v := range at {
			labels[i] = strconv.FormatFloat(v, 'g', digits, 64)
		}
		return labels
	}
	unit, suffix := 1.0, ""
	switch {
	case largest >= 1e12:
		unit, suffix = 1e12, "T"
	case largest >= 1e9:
		unit, suffix = 1e9, "G"
	case largest >= 1e6:
		unit, suffix = 1e6, "M"
	case largest >= 1e4:
		unit, suffix = 1e3, "k"
	}
	decimals := 0
	if s := step / unit; s < 1 {
		decimals = min(int(math.Ceil(-math.Log10(s)-snapTolerance)), 12)
	}
	for i, v := range at {
		s := strconv.FormatFloat(v/unit, 'f', decimals, 64)
		if strings.Trim(s, "-0.") == "" {
			labels[i] = "0" // zero, without a sign or a unit
			continue
		}
		labels[i] = s + suffix
	}
	return labels
}

// valueLabel writes a single measured value with about three significant
// digits and no trailing zeros: 1.51, 12.3, 95, 1234, 0.0123.
func valueLabel(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e15 || a < 1e-3:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	decimals := min(max(2-int(math.Floor(math.Log10(a))), 0), 5)
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
