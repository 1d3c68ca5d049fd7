package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// document is what a test reads back from a chart: it is well-formed XML
// with an <svg> root, and these are its elements and its text.
type document struct {
	elements map[string]int // count by local name
	texts    []string       // character data of each <text>
	textAt   [][2]float64   // and where each is drawn (x, y)
	title    string
}

// at is where the leftmost <text> reading s is drawn: for a tick label
// on both axes, the one on the Y axis.
func (d document) at(t testing.TB, s string) (x, y float64) {
	t.Helper()
	found := false
	for i, text := range d.texts {
		if text == s && (!found || d.textAt[i][0] < x) {
			x, y, found = d.textAt[i][0], d.textAt[i][1], true
		}
	}
	if !found {
		t.Fatalf("no text %q among %q", s, d.texts)
	}
	return x, y
}

// parseSVG reads an SVG document with encoding/xml, which refuses anything
// that is not well-formed, including characters XML does not allow. It
// also refuses coordinates that are not finite numbers.
func parseSVG(t testing.TB, svg []byte) document {
	t.Helper()
	doc := document{elements: make(map[string]int)}
	d := xml.NewDecoder(bytes.NewReader(svg))
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && (tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
			}
			for _, a := range tok.Attr {
				if strings.Contains(a.Value, "NaN") || strings.Contains(a.Value, "Inf") {
					t.Fatalf("<%s %s=%q>: not a finite number", tok.Name.Local, a.Name.Local, a.Value)
				}
			}
			stack = append(stack, tok.Name.Local)
			doc.elements[tok.Name.Local]++
			if tok.Name.Local == "text" {
				doc.texts = append(doc.texts, "")
				var xy [2]float64
				for _, a := range tok.Attr {
					switch a.Name.Local {
					case "x":
						xy[0], _ = strconv.ParseFloat(a.Value, 64)
					case "y":
						xy[1], _ = strconv.ParseFloat(a.Value, 64)
					}
				}
				doc.textAt = append(doc.textAt, xy)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			switch {
			case len(stack) > 0 && stack[len(stack)-1] == "text":
				doc.texts[len(doc.texts)-1] += string(tok)
			case len(stack) == 2 && stack[1] == "title":
				doc.title += string(tok)
			}
		}
	}
	if doc.elements["svg"] != 1 {
		t.Fatalf("%d <svg> elements", doc.elements["svg"])
	}
	return doc
}

func render(t *testing.T, chart interface{ WriteSVG(io.Writer) error }) document {
	t.Helper()
	var buf bytes.Buffer
	if err := chart.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	return parseSVG(t, buf.Bytes())
}

func tickAts(a axis) []float64 {
	var at []float64
	for _, t := range a.ticks {
		at = append(at, t.at)
	}
	return at
}

func tickLabelsOf(a axis) []string {
	var labels []string
	for _, t := range a.ticks {
		labels = append(labels, t.label)
	}
	return labels
}

func TestLinearAxisTicksAtNiceNumbers(t *testing.T) {
	for _, c := range []struct {
		lo, hi       float64
		fixLo, fixHi bool
		target       int
		want         []string
		wantLo       float64
		wantHi       float64
	}{
		{0, 7.3, false, false, 4, []string{"0", "2", "4", "6", "8"}, 0, 8},
		{0, 7.3, false, false, 6, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8"}, 0, 8},
		{0, 1, false, false, 5, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}, 0, 1},
		{-3, 12, false, false, 5, []string{"-5", "0", "5", "10", "15"}, -5, 15},
		{0.3, 0.71, false, false, 4, []string{"0.3", "0.4", "0.5", "0.6", "0.7", "0.8"}, 0.3, 0.8},
		{0, 2.5e6, false, false, 5, []string{"0", "0.5M", "1.0M", "1.5M", "2.0M", "2.5M"}, 0, 2.5e6},
		{0, 40_000, false, false, 4, []string{"0", "10k", "20k", "30k", "40k"}, 0, 40_000},
		{0, 100, true, true, 5, []string{"0", "20", "40", "60", "80", "100"}, 0, 100},
		// A fixed end is kept where it is, between ticks.
		{0, 9.5, true, true, 5, []string{"0", "2", "4", "6", "8"}, 0, 9.5},
		{0, 3e-6, false, false, 3, []string{"0", "1e-06", "2e-06", "3e-06"}, 0, 3e-6},
	} {
		a, err := linearAxis(c.lo, c.hi, c.fixLo, c.fixHi, c.target)
		if err != nil {
			t.Fatalf("%g..%g: %v", c.lo, c.hi, err)
		}
		if got := tickLabelsOf(a); !slices.Equal(got, c.want) {
			t.Errorf("%g..%g (target %d): ticks %q, want %q", c.lo, c.hi, c.target, got, c.want)
		}
		if math.Abs(a.lo-c.wantLo) > 1e-12 || math.Abs(a.hi-c.wantHi) > 1e-12 {
			t.Errorf("%g..%g: axis %g..%g, want %g..%g", c.lo, c.hi, a.lo, a.hi, c.wantLo, c.wantHi)
		}
	}
}

func TestLogAxisTicksAtPowersOfTen(t *testing.T) {
	for _, c := range []struct {
		minV, maxV float64
		target     int
		want       []string
	}{
		{30, 1000, 6, []string{"10", "100", "1000"}},
		{30, 100_000, 6, []string{"10", "100", "1000", "10k", "100k"}},
		{1000, 1000, 6, []string{"100", "1000", "10k"}},
		{0.004, 0.2, 6, []string{"0.001", "0.01", "0.1", "1"}},
		// One decade: 2 and 5 times the power are labelled as well.
		{30, 80, 6, []string{"10", "20", "50", "100"}},
		// Many decades: every few powers.
		{1, 1e20, 5, []string{"1", "10k", "100M", "1T", "1e16", "1e20"}},
	} {
		a := logAxis(c.minV, c.maxV, false, false, c.target)
		if got := tickLabelsOf(a); !slices.Equal(got, c.want) {
			t.Errorf("%g..%g: ticks %q, want %q", c.minV, c.maxV, got, c.want)
		}
	}
	// Fixed ends stay where they are, and ticks fall between them.
	for _, c := range []struct {
		minV, maxV   float64
		fixLo, fixHi bool
		want         []string
		lo, hi       float64
	}{
		{3, 400, true, false, []string{"10", "100", "1000"}, math.Log10(3), 3},
		{3, 400, false, true, []string{"1", "10", "100"}, 0, math.Log10(400)},
		{200, 5000, true, true, []string{"200", "500", "1000", "2000", "5000"}, math.Log10(200), math.Log10(5000)},
		// Too narrow for any of those: the ends.
		{6, 8, true, true, []string{"6", "8"}, math.Log10(6), math.Log10(8)},
	} {
		a := logAxis(c.minV, c.maxV, c.fixLo, c.fixHi, 6)
		majors := tickLabelsOf(a)
		if !slices.Equal(majors, c.want) || math.Abs(a.lo-c.lo) > 1e-12 || math.Abs(a.hi-c.hi) > 1e-12 {
			t.Errorf("%g..%g fixed %v, %v: ticks %q over %g..%g, want %q over %g..%g", c.minV, c.maxV, c.fixLo, c.fixHi, majors, a.lo, a.hi, c.want, c.lo, c.hi)
		}
	}
	a := logAxis(30, 1000, false, false, 6)
	if !slices.Equal(tickAts(a), []float64{1, 2, 3}) || a.lo != 1 || a.hi != 3 {
		t.Errorf("30..1000: ticks at %v over %g..%g decades, want 1, 2, 3 over 1..3", tickAts(a), a.lo, a.hi)
	}
	if len(a.minor) != 16 {
		t.Errorf("30..1000: %d minor grid lines, want 8 per decade", len(a.minor))
	}
	if f := a.frac(100); f != 0.5 {
		t.Errorf("100 on 10..1000 sits at %g of the axis, want 0.5", f)
	}
}

func TestValueLabels(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1.5123: "1.51", 12.34: "12.3", 95: "95", 99.96: "100", 1234.4: "1234",
		0.0123: "0.0123", 0.3: "0.3", -2.5: "-2.5", 0.0004: "0.0004", 2e16: "2e+16",
	} {
		if got := valueLabel(v); got != want {
			t.Errorf("valueLabel(%g) = %q, want %q", v, got, want)
		}
	}
}

func sweepChart() LineChart {
	return LineChart{
		Title:    `Server copies <vs> "viewers" & more`,
		Subtitle: "60s per run",
		XLabel:   "viewers at once", YLabel: "server copies", LogX: true,
		Series: []Series{
			{Name: "media", Points: []Point{{30, 1.5}, {300, 2.1}, {1000, 2.4}}},
			{Name: "all egress", Points: []Point{{30, 1.7}, {300, 3}, {1000, 3.9}}},
			{Name: "one point", Points: []Point{{100, 1}}},
		},
		Refs: []Ref{{Y: 5, Label: "target: media ≤ 5"}, {Y: 10, Label: "target: all ≤ 10"}},
	}
}

// A line chart is well-formed SVG naming every series, labelling its
// targets and drawing a line and markers for each series.
func TestLineChartDrawsEverySeries(t *testing.T) {
	doc := render(t, sweepChart())
	if doc.title != `Server copies <vs> "viewers" & more` {
		t.Errorf("<title> %q", doc.title)
	}
	for _, want := range []string{`Server copies <vs> "viewers" & more`, "60s per run", "media", "all egress", "one point",
		"target: media ≤ 5", "target: all ≤ 10", "viewers at once", "server copies", "10", "100", "1000", "0", "10"} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("no text %q among %q", want, doc.texts)
		}
	}
	// A line for each series of more than one point; a marker for each
	// point and legend entry: circles for the first series, triangles for
	// the third.
	if doc.elements["polyline"] != 2 {
		t.Errorf("%d polylines, want 2", doc.elements["polyline"])
	}
	if doc.elements["circle"] != 3+1 || doc.elements["polygon"] != 1+1 {
		t.Errorf("%d circles and %d polygons, want 4 and 2", doc.elements["circle"], doc.elements["polygon"])
	}
	if doc.elements["clipPath"] != 1 {
		t.Errorf("%d clip paths", doc.elements["clipPath"])
	}
}

// On a logarithmic Y axis the copies of a swarm that cannot carry its
// viewers and the targets far below them are all readable.
func TestLineChartLogY(t *testing.T) {
	chart := sweepChart()
	chart.LogY = true
	chart.Series[0].Points = []Point{{30, 5.5}, {300, 233}, {1000, 876}}
	doc := render(t, chart)
	// The Y tick labels are evenly spaced powers of ten, up the page.
	var ys []float64
	for _, label := range []string{"1", "10", "100", "1000"} {
		_, y := doc.at(t, label)
		ys = append(ys, y)
	}
	for i := 1; i < len(ys); i++ {
		if gap := ys[i-1] - ys[i]; gap <= 20 || math.Abs(gap-(ys[0]-ys[1])) > 0.5 {
			t.Errorf("Y tick labels at %v: not evenly spaced up the page", ys)
		}
	}
	// The target of 5 is labelled between 1 and 10, nearer 10.
	if _, y := doc.at(t, "target: media ≤ 5"); y > ys[0] || y < ys[1]-12 || y > (ys[0]+ys[1])/2 {
		t.Errorf("the label of the line at 5 is at y %g; 1 and 10 are at %g and %g", y, ys[0], ys[1])
	}
}

func TestLineChartValueLabelsAndFixedRange(t *testing.T) {
	chart := LineChart{
		Title: "P2P", YMin: new(0.0), YMax: new(100.0), ValueLabels: true,
		Series: []Series{{Name: "share", Points: []Point{{1, 95.1}, {2, 97.34}}}, {Name: "stalls", Points: []Point{{1, 0.0123}, {2, 250}}}},
	}
	doc := render(t, chart)
	for _, want := range []string{"95.1", "97.3", "0.0123", "100", "0"} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("no text %q among %q", want, doc.texts)
		}
	}
	// 250 is clipped off the fixed 0..100 axis, and so is its label.
	if slices.Contains(doc.texts, "250") {
		t.Errorf("a label for a point above YMax")
	}
}

func TestBarChartLabelsEveryBar(t *testing.T) {
	chart := BarChart{
		Title:  "Serving 30 viewers",
		YLabel: "copies, seconds",
		Groups: []string{"hls.js HTTP only", "swarmtx", "p2p-media-loader defaults"},
		Series: []BarSeries{{Name: "server copies", Values: []float64{30, 1.51, 9.2}}, {Name: "lag p50 s", Values: []float64{2.1, 2.4, -1}}},
		Refs:   []Ref{{Y: 5, Label: "target ≤ 5 copies"}},
	}
	doc := render(t, chart)
	for _, want := range []string{"hls.js HTTP only", "swarmtx", "p2p-media-loader defaults", "server copies", "lag p50 s",
		"30", "1.51", "9.2", "2.1", "2.4", "-1", "target ≤ 5 copies", "copies, seconds"} {
		if !slices.Contains(doc.texts, want) {
			t.Errorf("no text %q among %q", want, doc.texts)
		}
	}
	// Background, plate behind the reference label, a legend swatch per
	// series and a bar per value.
	if rects := doc.elements["rect"]; rects < 2+2+6 {
		t.Errorf("%d rects, want at least 10", rects)
	}
}

// failingWriter refuses every write.
type failingWriter struct{}

var errRefused = errors.New("refused")

func (failingWriter) Write([]byte) (int, error) { return 0, errRefused }

func TestWriteErrorsAreWrapped(t *testing.T) {
	err := sweepChart().WriteSVG(failingWriter{})
	if !errors.Is(err, errRefused) || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "writing line chart") {
		t.Errorf("error %v", err)
	}
}

// Bad input is refused with an error naming what was wrong, and nothing
// is written.
func TestBadInputIsRefused(t *testing.T) {
	line := func(edit func(*LineChart)) LineChart {
		c := sweepChart()
		c.Series = slices.Clone(c.Series)
		edit(&c)
		return c
	}
	bars := func(edit func(*BarChart)) BarChart {
		c := BarChart{Groups: []string{"a", "b"}, Series: []BarSeries{{Name: "copies", Values: []float64{1, 2}}}}
		edit(&c)
		return c
	}
	for _, c := range []struct {
		chart interface{ WriteSVG(io.Writer) error }
		want  string
	}{
		{LineChart{Title: "empty"}, `line chart "empty" has no series`},
		{line(func(c *LineChart) { c.Series[1] = Series{Name: "none"} }), `series 1 ("none") has no points`},
		{line(func(c *LineChart) { c.Series[0] = Series{Name: "m", Points: []Point{{1, 1}, {2, math.NaN()}}} }), `series 0 ("m"), point 1: (2, NaN) is not a finite point`},
		{line(func(c *LineChart) { c.Series[0] = Series{Name: "m", Points: []Point{{math.Inf(1), 1}}} }), `(+Inf, 1) is not a finite point`},
		{line(func(c *LineChart) { c.Series[0] = Series{Name: "m", Points: []Point{{0, 1}}} }), `point 0: X 0 is not positive, and the X axis is logarithmic`},
		{line(func(c *LineChart) { c.Series[0] = Series{Name: "m", Points: []Point{{-3, 1}}} }), `X -3 is not positive`},
		{line(func(c *LineChart) { c.Refs = []Ref{{Y: math.NaN(), Label: "goal"}} }), `reference line 0 ("goal") is NaN`},
		{line(func(c *LineChart) { c.LogY = true; c.Series[2].Points = []Point{{5, 0}} }), `series 2 ("one point"), point 0: Y 0 is not positive, and the Y axis is logarithmic`},
		{line(func(c *LineChart) { c.LogY = true; c.Refs = []Ref{{Y: -1, Label: "floor"}} }), `reference line 0 ("floor"): Y -1 is not positive`},
		{line(func(c *LineChart) { c.LogY = true; c.YMin = new(0.0) }), "the Y axis is logarithmic, and its fixed ends must be positive"},
		{line(func(c *LineChart) { c.YMin, c.YMax = new(5.0), new(5.0) }), "YMin 5 is not below YMax 5"},
		{line(func(c *LineChart) { c.YMax = new(math.Inf(-1)) }), "YMax is -Inf"},
		{line(func(c *LineChart) { c.Width = 100 }), "size 100x440 is outside"},
		{line(func(c *LineChart) { c.Height = -1 }), "size 720x-1 is outside"},
		{line(func(c *LineChart) {
			c.LogX = false
			c.Series[0] = Series{Name: "m", Points: []Point{{-1.7e308, 1}, {1.7e308, 1}}}
		}), "do not make a range a float64 can hold (the X axis)"},
		{line(func(c *LineChart) {
			c.Series = make([]Series, 60)
			for i := range c.Series {
				c.Series[i] = Series{Name: strings.Repeat("long name ", 5), Points: []Point{{1, 1}}}
			}
		}), "px of height to plot in"},
		{BarChart{Title: "t", Series: []BarSeries{{Name: "x"}}}, `bar chart "t" has no groups`},
		{BarChart{Title: "t", Groups: []string{"a"}}, `bar chart "t" has no series`},
		{bars(func(c *BarChart) { c.Series[0].Values = []float64{1} }), `series 0 ("copies") has 1 values for 2 groups`},
		{bars(func(c *BarChart) { c.Series[0].Values = []float64{1, math.Inf(-1)} }), `series 0 ("copies"), value 1 (group "b") is -Inf`},
		{bars(func(c *BarChart) { c.Groups = make([]string, 400); c.Series[0].Values = make([]float64, 400) }), "400 groups of 1 bars do not fit"},
	} {
		var buf bytes.Buffer
		err := c.chart.WriteSVG(&buf)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want ErrInvalid and %q", err, c.want)
		}
		if buf.Len() > 0 {
			t.Errorf("%q: %d bytes written for an invalid chart", c.want, buf.Len())
		}
	}
}

// Text that XML cannot carry as it is (markup, control characters, invalid
// UTF-8) is escaped or replaced.
func TestTextIsEscaped(t *testing.T) {
	nasty := "a</text><script>x</script>\x00\x1b\xff]]>&amp;"
	chart := LineChart{Title: nasty, XLabel: nasty, YLabel: nasty, Subtitle: nasty,
		Series: []Series{{Name: nasty, Points: []Point{{1, 2}, {2, 3}}}}, Refs: []Ref{{Y: 2.5, Label: nasty}}}
	doc := render(t, chart)
	if doc.elements["script"] != 0 {
		t.Error("a label became markup")
	}
	bars := BarChart{Title: nasty, YLabel: nasty, Groups: []string{nasty}, Series: []BarSeries{{Name: nasty, Values: []float64{1}}}}
	if doc := render(t, bars); doc.elements["script"] != 0 {
		t.Error("a label became markup")
	}
}

// Extreme but finite numbers make a valid chart or a clear error, never a
// document with a non-finite coordinate.
func TestExtremeNumbers(t *testing.T) {
	for _, pts := range [][]Point{
		{{1, 0}, {2, 0}},
		{{1, 5e-324}, {2, 1e-320}},
		{{1, 1e308}, {2, -1e308}},
		{{1, 1}, {1 + 1e-15, 1 + 1e-15}},
		{{1, -7}},
		{{1e-300, 1}, {1e300, 2}},
	} {
		for _, logX := range []bool{false, true} {
			chart := LineChart{LogX: logX, Series: []Series{{Name: "s", Points: pts}}, ValueLabels: true}
			var buf bytes.Buffer
			if err := chart.WriteSVG(&buf); err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%v: %v", pts, err)
				}
				continue
			}
			parseSVG(t, buf.Bytes())
		}
	}
}
