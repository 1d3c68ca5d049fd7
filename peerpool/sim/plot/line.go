package plot

import (
	"fmt"
	"io"
	"math"
)

// LineChart draws series of points as lines with a marker at each point,
// on a linear or logarithmic X axis and a linear Y axis, with a legend
// naming the series and optional horizontal reference lines.
type LineChart struct {
	Title string
	// Subtitle is smaller text under the title, wrapped to up to three
	// lines: the settings a figure was made with, or what its unit means.
	Subtitle       string
	XLabel, YLabel string
	// LogX puts X on a logarithmic scale labelled at powers of ten; every
	// X must then be positive. LogY does the same for Y, and then every Y,
	// reference line and fixed end of the Y axis must be positive.
	LogX, LogY bool
	// YMin and YMax fix the ends of the Y axis. Left nil, the axis spans
	// the points and reference lines, rounded out to a tick (a power of
	// ten on a logarithmic axis) and, on a linear one, from zero unless a
	// value is negative. What lies outside is clipped.
	YMin, YMax *float64
	Series     []Series
	Refs       []Ref
	// ValueLabels writes each point's Y value beside its marker, for
	// values too small to read off the axis.
	ValueLabels bool
	// Width and Height are the chart's size in pixels; zero picks 720×440.
	Width, Height int
}

// WriteSVG checks the chart and writes it to w as an SVG document. Nothing
// is written if the chart is invalid.
func (c LineChart) WriteSVG(w io.Writer) error {
	return writeRendered(w, "line", c.Title, c.render)
}

func seriesName(i int, name string) string {
	return fmt.Sprintf("series %d (%q)", i, name)
}

// check validates the chart's numbers and returns the extent of its X
// values and every Y value the Y axis must show.
func (c LineChart) check() (minX, maxX float64, ys []float64, err error) {
	if err := checkBounds(c.YMin, c.YMax); err != nil {
		return 0, 0, nil, err
	}
	if err := checkRefs(c.Refs); err != nil {
		return 0, 0, nil, err
	}
	if len(c.Series) == 0 {
		return 0, 0, nil, invalid("line chart %q has no series", c.Title)
	}
	minX, maxX = math.Inf(1), math.Inf(-1)
	for i, s := range c.Series {
		if len(s.Points) == 0 {
			return 0, 0, nil, invalid("%s has no points", seriesName(i, s.Name))
		}
		for j, p := range s.Points {
			if !finite(p.X) || !finite(p.Y) {
				return 0, 0, nil, invalid("%s, point %d: (%v, %v) is not a finite point", seriesName(i, s.Name), j, p.X, p.Y)
			}
			if c.LogX && p.X <= 0 {
				return 0, 0, nil, invalid("%s, point %d: X %g is not positive, and the X axis is logarithmic", seriesName(i, s.Name), j, p.X)
			}
			if c.LogY && p.Y <= 0 {
				return 0, 0, nil, invalid("%s, point %d: Y %g is not positive, and the Y axis is logarithmic", seriesName(i, s.Name), j, p.Y)
			}
			minX, maxX = min(minX, p.X), max(maxX, p.X)
			ys = append(ys, p.Y)
		}
	}
	for i, r := range c.Refs {
		if c.LogY && r.Y <= 0 {
			return 0, 0, nil, invalid("reference line %d (%q): Y %g is not positive, and the Y axis is logarithmic", i, r.Label, r.Y)
		}
		ys = append(ys, r.Y)
	}
	if c.LogY && ((c.YMin != nil && *c.YMin <= 0) || (c.YMax != nil && *c.YMax <= 0)) {
		return 0, 0, nil, invalid("the Y axis is logarithmic, and its fixed ends must be positive")
	}
	return minX, maxX, ys, nil
}

func (c LineChart) render() ([]byte, error) {
	width, height, err := checkSize(c.Width, c.Height)
	if err != nil {
		return nil, err
	}
	minX, maxX, ys, err := c.check()
	if err != nil {
		return nil, err
	}

	var cv canvas
	cv.begin(width, height, c.Title)
	legend := make([]legendEntry, len(c.Series))
	for i, s := range c.Series {
		legend[i] = legendEntry{name: s.Name, index: i}
		if s.Name == "" {
			legend[i].name = fmt.Sprintf("series %d", i+1)
		}
	}
	top := cv.header(width, c.Title, c.Subtitle, legend) + 14
	bottom := height - margin - tickSize - 8
	if c.XLabel != "" {
		bottom -= textSize + 10
	}
	plotHeight := bottom - top
	if plotHeight < 60 {
		return nil, invalid("a %gx%g chart leaves %g px of height to plot in after its title and legend", width, height, plotHeight)
	}

	yAxis, err := c.yAxis(ys, max(int(plotHeight/45), 2))
	if err != nil {
		return nil, err
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

	// The X axis is fitted to a provisional width, then the right margin
	// makes room for half of the last tick label, which is centred on the
	// plot's right edge.
	xAxisFor := func(plotWidth float64) (axis, error) {
		target := max(int(plotWidth/90), 2)
		if c.LogX {
			return logAxis(minX, maxX, false, false, target), nil
		}
		lo, hi := yBounds([]float64{minX, maxX}, false, nil, nil)
		a, err := linearAxis(lo, hi, false, false, target)
		if err != nil {
			return axis{}, fmt.Errorf("%w (the X axis)", err)
		}
		return a, nil
	}
	xAxis, err := xAxisFor(width - left - margin)
	if err != nil {
		return nil, err
	}
	right := margin + 6
	if n := len(xAxis.ticks); n > 0 && xAxis.fracAt(xAxis.ticks[n-1].at) > 0.99 {
		right = max(right, textWidth(xAxis.ticks[n-1].label, tickSize)/2+4)
	}
	plot := area{left: left, top: top, width: width - left - right, height: plotHeight}
	if plot.width < 80 {
		return nil, invalid("a %gx%g chart leaves %g px of width to plot in after its labels", width, height, plot.width)
	}

	for _, at := range xAxis.minor {
		px := plot.left + xAxis.fracAt(at)*plot.width
		cv.line(px, plot.top, px, plot.bottom(), minorColour, 1, "")
	}
	for _, t := range xAxis.ticks {
		px := plot.left + xAxis.fracAt(t.at)*plot.width
		cv.line(px, plot.top, px, plot.bottom(), gridColour, 1, "")
		cv.line(px, plot.bottom(), px, plot.bottom()+4, axisColour, 1, "")
		cv.text(px, plot.bottom()+8+tickSize, t.label, textStyle{size: tickSize, anchor: "middle", fill: textColour})
	}
	if c.XLabel != "" {
		cv.text(plot.left+plot.width/2, height-margin, fit(c.XLabel, plot.width, textSize), textStyle{size: textSize, anchor: "middle", fill: textColour})
	}
	cv.yGrid(plot, yAxis, c.YLabel)
	cv.frame(plot)
	cv.refs(plot, yAxis, c.Refs)

	cv.clipPath(plot)
	cv.printf(`<g clip-path="url(#%s)">`+"\n", clipID)
	for i, s := range c.Series {
		xy := make([]float64, 0, 2*len(s.Points))
		for _, p := range s.Points {
			xy = append(xy, plot.left+xAxis.frac(p.X)*plot.width, plot.bottom()-yAxis.frac(p.Y)*plot.height)
		}
		if len(s.Points) > 1 {
			cv.printf(`<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" points="`, colour(i))
			for k := 0; k < len(xy); k += 2 {
				if k > 0 {
					cv.printf(" ")
				}
				cv.printf("%s,%s", num(xy[k]), num(xy[k+1]))
			}
			cv.printf(`"/>` + "\n")
		}
		for k := 0; k < len(xy); k += 2 {
			cv.marker(i, xy[k], xy[k+1], colour(i), "")
		}
	}
	cv.printf("</g>\n")
	if c.ValueLabels {
		c.valueLabels(&cv, plot, xAxis, yAxis)
	}
	cv.end()
	return cv.buf.Bytes(), nil
}

// valueLabels writes each point's value above its marker (below it near
// the top of the plot). They are drawn outside the clip path, so that a
// label at the plot's edge is not cut, and only for points inside it.
func (c LineChart) valueLabels(cv *canvas, plot area, xAxis, yAxis axis) {
	for i, s := range c.Series {
		for _, p := range s.Points {
			fx, fy := xAxis.frac(p.X), yAxis.frac(p.Y)
			if fx < 0 || fx > 1 || fy < 0 || fy > 1 {
				continue
			}
			px, py := plot.left+fx*plot.width, plot.bottom()-fy*plot.height
			base := py - 8
			if base-tickSize < plot.top {
				base = py + 8 + tickSize
			}
			cv.text(px, base, valueLabel(p.Y), textStyle{size: tickSize, anchor: "middle", fill: colour(i)})
		}
	}
}

// yAxis fits the Y axis to the values it must show (all positive on a
// logarithmic one, which check ensures) and to the fixed ends.
func (c LineChart) yAxis(ys []float64, target int) (axis, error) {
	if !c.LogY {
		lo, hi := yBounds(ys, true, c.YMin, c.YMax)
		a, err := linearAxis(lo, hi, c.YMin != nil, c.YMax != nil, target)
		if err != nil {
			return axis{}, fmt.Errorf("%w (the Y axis)", err)
		}
		return a, nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, y := range ys {
		lo, hi = min(lo, y), max(hi, y)
	}
	if c.YMin != nil {
		lo = *c.YMin
	}
	if c.YMax != nil {
		hi = *c.YMax
	}
	return logAxis(lo, hi, c.YMin != nil, c.YMax != nil, target), nil
}
