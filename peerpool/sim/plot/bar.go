package plot

import (
	"fmt"
	"io"
)

// BarSeries is one measure across a bar chart's groups: one value per
// group, in the groups' order, drawn as bars of one colour.
type BarSeries struct {
	Name   string
	Values []float64
}

// BarChart draws grouped bars, one group per configuration compared and
// one bar per series within each group, with each bar's value written on
// it. The series share one Y axis, so measures in different units can be
// set side by side; the value labels carry the figures.
type BarChart struct {
	Title string
	// Subtitle is smaller text under the title, wrapped to up to three
	// lines.
	Subtitle string
	YLabel   string
	// Groups names the groups, written under their bars (wrapped to two
	// lines).
	Groups []string
	Series []BarSeries
	Refs   []Ref
	// YMin and YMax fix the ends of the Y axis. Left nil, the axis spans
	// zero, the values with room for their labels, and the reference
	// lines, rounded out to a tick.
	YMin, YMax *float64
	// Width and Height are the chart's size in pixels; zero picks 720×440.
	Width, Height int
}

// WriteSVG checks the chart and writes it to w as an SVG document. Nothing
// is written if the chart is invalid.
func (c BarChart) WriteSVG(w io.Writer) error {
	return writeRendered(w, "bar", c.Title, c.render)
}

// headroom is how much of the data's height is added above the tallest bar
// (and below the deepest) when the axis is not fixed, for its value label.
const headroom = 0.08

func (c BarChart) check() (ys []float64, err error) {
	if err := checkBounds(c.YMin, c.YMax); err != nil {
		return nil, err
	}
	if err := checkRefs(c.Refs); err != nil {
		return nil, err
	}
	if len(c.Groups) == 0 {
		return nil, invalid("bar chart %q has no groups", c.Title)
	}
	if len(c.Series) == 0 {
		return nil, invalid("bar chart %q has no series", c.Title)
	}
	lo, hi := 0.0, 0.0
	for i, s := range c.Series {
		if len(s.Values) != len(c.Groups) {
			return nil, invalid("%s has %d values for %d groups", seriesName(i, s.Name), len(s.Values), len(c.Groups))
		}
		for j, v := range s.Values {
			if !finite(v) {
				return nil, invalid("%s, value %d (group %q) is %v", seriesName(i, s.Name), j, c.Groups[j], v)
			}
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	span := hi - lo
	if !finite(span) {
		return nil, invalid("bar chart %q: values from %g to %g do not make a range a float64 can hold", c.Title, lo, hi)
	}
	ys = []float64{lo, hi}
	if hi > 0 {
		ys = append(ys, hi+headroom*span)
	}
	if lo < 0 {
		ys = append(ys, lo-headroom*span)
	}
	for _, r := range c.Refs {
		ys = append(ys, r.Y)
	}
	return ys, nil
}

func (c BarChart) render() ([]byte, error) {
	width, height, err := checkSize(c.Width, c.Height)
	if err != nil {
		return nil, err
	}
	ys, err := c.check()
	if err != nil {
		return nil, err
	}

	var cv canvas
	cv.begin(width, height, c.Title)
	legend := make([]legendEntry, len(c.Series))
	for i, s := range c.Series {
		legend[i] = legendEntry{name: s.Name, index: i, bar: true}
		if s.Name == "" {
			legend[i].name = fmt.Sprintf("series %d", i+1)
		}
	}
	top := cv.header(width, c.Title, c.Subtitle, legend) + 14
	const groupLines = 2
	groupLineHeight := textSize + 3
	bottom := height - margin - groupLines*groupLineHeight - 6
	plotHeight := bottom - top
	if plotHeight < 60 {
		return nil, invalid("a %gx%g chart leaves %g px of height to plot in after its title and legend", width, height, plotHeight)
	}

	yLo, yHi := yBounds(ys, true, c.YMin, c.YMax)
	yAxis, err := linearAxis(yLo, yHi, c.YMin != nil, c.YMax != nil, max(int(plotHeight/45), 2))
	if err != nil {
		return nil, fmt.Errorf("%w (the Y axis)", err)
	}
	left := margin + 8
	if c.YLabel != "" {
		left += textSize + 8
	}
	widest := 0.0
	for _, t := range yAxis.ticks {
		widest = max(widest, textWidth(t.label, tickSize))
	}
	left += widest
	plot := area{left: left, top: top, width: width - left - margin, height: plotHeight}
	slot := plot.width / float64(len(c.Groups))
	barWidth := slot * 0.8 / float64(len(c.Series))
	if barWidth < 2 {
		return nil, invalid("%d groups of %d bars do not fit in %g px", len(c.Groups), len(c.Series), plot.width)
	}

	cv.yGrid(plot, yAxis, c.YLabel)
	for g, name := range c.Groups {
		centre := plot.left + (float64(g)+0.5)*slot
		for k, line := range wrap(name, slot-8, textSize, groupLines) {
			cv.text(centre, plot.bottom()+8+textSize+float64(k)*groupLineHeight, line, textStyle{size: textSize, anchor: "middle", fill: textColour})
		}
	}

	// Bars stand on zero, or on the axis's end nearer to it when a fixed
	// range leaves zero out.
	base := plot.bottom() - min(max(yAxis.frac(0), 0), 1)*plot.height
	cv.clipPath(plot)
	cv.printf(`<g clip-path="url(#%s)">`+"\n", clipID)
	type label struct {
		x, y float64
		text string
		size float64
	}
	var labels []label
	for s, series := range c.Series {
		for g, v := range series.Values {
			x := plot.left + float64(g)*slot + slot*0.1 + float64(s)*barWidth
			y := plot.bottom() - yAxis.frac(v)*plot.height
			cv.rect(x+1, min(y, base), barWidth-2, max(y, base)-min(y, base), colour(s), "")
			// The label shrinks to its bar's width, down to a point where
			// it would no longer be legible.
			text := valueLabel(v)
			size := min(tickSize, max(7, (barWidth-2)/(float64(len(text))*emAdvance)))
			at := y - 4
			if v < 0 {
				at = y + size + 3
			}
			if f := yAxis.frac(v); f >= 0 && f <= 1 {
				labels = append(labels, label{x: x + barWidth/2, y: at, text: text, size: size})
			}
		}
	}
	cv.printf("</g>\n")
	for _, l := range labels {
		cv.text(l.x, l.y, l.text, textStyle{size: l.size, anchor: "middle", fill: textColour})
	}
	cv.frame(plot)
	cv.line(plot.left, base, plot.right(), base, axisColour, 1, "")
	cv.refs(plot, yAxis, c.Refs)
	cv.end()
	return cv.buf.Bytes(), nil
}
