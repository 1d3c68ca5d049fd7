// Package plot writes line and bar charts as self-contained SVG 1.1: no
// scripts, no style sheets, no external fonts or images, so a chart renders
// the same in a browser, in an <img> tag and in a repository's README view.
// It exists to put the simulator's figures in front of a reader; it draws
// what a report needs (ticks at nice numbers, a logarithmic X axis, a
// legend, reference lines for targets) and nothing more.
//
// A chart is a plain struct: fill in its fields and call WriteSVG. Every
// number is checked before anything is written, and every error about the
// input wraps ErrInvalid and says which series, point or field was wrong.
// All text is escaped, so labels may come from untrusted sources.
package plot

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error about what a chart was asked to
// draw, as opposed to an error writing it out.
var ErrInvalid = errors.New("invalid chart")

// Point is one data point of a line chart.
type Point struct{ X, Y float64 }

// Series is one line of a line chart, drawn through its points in the order
// given, with a marker at each point.
type Series struct {
	Name   string
	Points []Point
}

// Ref is a horizontal reference line across the plot, such as a target
// ("media ≤ 5 copies"). Its label is written at the line's right end.
type Ref struct {
	Y     float64
	Label string
}

const (
	defaultWidth, defaultHeight = 720, 440
	// Below these a chart has no room for its axes and labels; above the
	// maximum it is a mistake rather than a chart.
	minWidth, minHeight = 240, 180
	maxSide             = 10_000

	fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"
	titleSize  = 16.0
	textSize   = 12.0
	tickSize   = 11.0
	margin     = 14.0 // between the canvas edge and anything drawn

	// A renderer's fonts are unknown, so text widths are estimated from
	// the rune count; this average advance (in ems) errs towards wide,
	// which only costs a little white space.
	emAdvance = 0.6

	axisColour  = "#333333"
	gridColour  = "#e3e3e3"
	minorColour = "#f1f1f1"
	textColour  = "#222222"
	mutedColour = "#555555"
	refColour   = "#777777"
)

// palette holds the Okabe–Ito colours, which stay distinct under the
// common colour-vision deficiencies; their yellow is left out because it
// vanishes on white.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

func colour(i int) string { return palette[i%len(palette)] }

// marker shapes cycle out of step with the colours, so that series stay
// apart in print and to readers who do not see the colours.
const markerShapes = 5

func invalid(format string, a ...any) error {
	return fmt.Errorf("plot: %w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// checkSize resolves a chart's size: zero picks the default.
func checkSize(width, height int) (float64, float64, error) {
	if width == 0 {
		width = defaultWidth
	}
	if height == 0 {
		height = defaultHeight
	}
	if width < minWidth || width > maxSide || height < minHeight || height > maxSide {
		return 0, 0, invalid("size %dx%d is outside %dx%d..%dx%d", width, height, minWidth, minHeight, maxSide, maxSide)
	}
	return float64(width), float64(height), nil
}

// writeRendered renders a chart in full before writing any of it, so an
// invalid chart leaves w untouched.
func writeRendered(w io.Writer, kind, title string, render func() ([]byte, error)) error {
	svg, err := render()
	if err != nil {
		return err
	}
	if _, err := w.Write(svg); err != nil {
		return fmt.Errorf("plot: writing %s chart %q: %w", kind, title, err)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkNumber says what is wrong with v, if anything.
func checkNumber(what string, v float64) error {
	if !finite(v) {
		return invalid("%s is %v", what, v)
	}
	return nil
}

func checkRefs(refs []Ref) error {
	for i, r := range refs {
		if err := checkNumber(fmt.Sprintf("reference line %d (%q)", i, r.Label), r.Y); err != nil {
			return err
		}
	}
	return nil
}

// checkBounds checks a chart's optional fixed Y range.
func checkBounds(yMin, yMax *float64) error {
	if yMin != nil {
		if err := checkNumber("YMin", *yMin); err != nil {
			return err
		}
	}
	if yMax != nil {
		if err := checkNumber("YMax", *yMax); err != nil {
			return err
		}
	}
	if yMin != nil && yMax != nil && *yMin >= *yMax {
		return invalid("YMin %g is not below YMax %g", *yMin, *yMax)
	}
	return nil
}

// textWidth estimates how wide s is drawn at size px.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * emAdvance
}

// fit shortens s with an ellipsis until it fits in width px at size px.
func fit(s string, width, size float64) string {
	if textWidth(s, size) <= width {
		return s
	}
	keep := int(width/(size*emAdvance)) - 1
	if keep < 1 {
		return "…"
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:min(keep, len(runes))]), " ") + "…"
}

// wrap breaks s at spaces into at most maxLines lines that fit in width px
// at size px; what does not fit is cut with an ellipsis.
func wrap(s string, width, size float64, maxLines int) []string {
	var lines []string
	line := ""
	words := strings.Fields(s)
	for i, word := range words {
		candidate := word
		if line != "" {
			candidate = line + " " + word
		}
		if textWidth(candidate, size) <= width || line == "" {
			line = candidate
			continue
		}
		if len(lines) == maxLines-1 {
			return append(lines, fit(line+" "+strings.Join(words[i:], " "), width, size))
		}
		lines = append(lines, fit(line, width, size))
		line = word
	}
	if line != "" {
		lines = append(lines, fit(line, width, size))
	}
	return lines
}

// canvas accumulates a document, so that nothing reaches the writer
// unless the whole chart could be drawn.
type canvas struct{ buf bytes.Buffer }

// num formats a coordinate. Coordinates are finite by construction; the
// guard keeps the document valid should one not be.
func num(v float64) string {
	if !finite(v) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		return "0"
	}
	return s
}

func (c *canvas) printf(format string, a ...any) { fmt.Fprintf(&c.buf, format, a...) }

func (c *canvas) begin(width, height float64, title string) {
	c.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s">`+"\n",
		num(width), num(height), num(width), num(height), fontFamily)
	if title != "" {
		c.printf("<title>")
		c.escape(title)
		c.printf("</title>\n")
	}
	// An opaque background keeps the dark text readable on dark pages.
	c.printf(`<rect x="0" y="0" width="%s" height="%s" fill="#ffffff"/>`+"\n", num(width), num(height))
}

func (c *canvas) end() { c.printf("</svg>\n") }

// escape writes s as XML character data. encoding/xml replaces invalid
// UTF-8 and characters XML forbids (most control characters) with U+FFFD.
func (c *canvas) escape(s string) {
	_ = xml.EscapeText(&c.buf, []byte(s)) // a bytes.Buffer does not fail
}

type textStyle struct {
	size   float64
	anchor string // start, middle or end
	fill   string
	bold   bool
	rotate bool // reads bottom to top, turned about its anchor
}

func (c *canvas) text(x, y float64, s string, st textStyle) {
	if s == "" {
		return
	}
	c.printf(`<text x="%s" y="%s" font-size="%s" fill="%s"`, num(x), num(y), num(st.size), st.fill)
	if st.anchor != "" && st.anchor != "start" {
		c.printf(` text-anchor="%s"`, st.anchor)
	}
	if st.bold {
		c.printf(` font-weight="bold"`)
	}
	if st.rotate {
		c.printf(` transform="rotate(-90 %s %s)"`, num(x), num(y))
	}
	c.printf(">")
	c.escape(s)
	c.printf("</text>\n")
}

func (c *canvas) line(x1, y1, x2, y2 float64, stroke string, strokeWidth float64, extra string) {
	c.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`+"\n",
		num(x1), num(y1), num(x2), num(y2), stroke, num(strokeWidth), extra)
}

func (c *canvas) rect(x, y, w, h float64, fill, extra string) {
	c.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`+"\n", num(x), num(y), num(max(w, 0)), num(max(h, 0)), fill, extra)
}

// marker draws shape number shape (mod markerShapes) centred on x, y.
func (c *canvas) marker(shape int, x, y float64, fill, extra string) {
	const r = 4.0
	outline := ` stroke="#ffffff" stroke-width="1"` + extra
	switch shape % markerShapes {
	case 0:
		c.printf(`<circle cx="%s" cy="%s" r="%s" fill="%s"%s/>`+"\n", num(x), num(y), num(r), fill, outline)
	case 1:
		c.rect(x-r+0.5, y-r+0.5, 2*r-1, 2*r-1, fill, outline)
	case 2:
		c.polygon(fill, outline, x, y-r-1, x+r+0.5, y+r-1, x-r-0.5, y+r-1)
	case 3:
		c.polygon(fill, outline, x, y-r-1, x+r+1, y, x, y+r+1, x-r-1, y)
	case 4:
		c.polygon(fill, outline, x, y+r+1, x+r+0.5, y-r+1, x-r-0.5, y-r+1)
	}
}

func (c *canvas) polygon(fill, extra string, xy ...float64) {
	c.printf(`<polygon points="`)
	for i := 0; i+1 < len(xy); i += 2 {
		if i > 0 {
			c.printf(" ")
		}
		c.printf("%s,%s", num(xy[i]), num(xy[i+1]))
	}
	c.printf(`" fill="%s"%s/>`+"\n", fill, extra)
}

// legendEntry is one item of a legend: a line with a marker for a line
// chart's series, a filled square for a bar chart's.
type legendEntry struct {
	name  string
	index int
	bar   bool
}

// header draws the title, the subtitle and the legend from the top of a
// canvas width px wide and returns where the plot may begin.
func (c *canvas) header(width float64, title, subtitle string, legend []legendEntry) float64 {
	y := margin
	usable := width - 2*margin
	if title != "" {
		y += titleSize
		c.text(margin, y, fit(title, usable, titleSize), textStyle{size: titleSize, fill: textColour, bold: true})
		y += 6
	}
	for _, line := range wrap(subtitle, usable, textSize, 3) {
		y += textSize + 3
		c.text(margin, y, line, textStyle{size: textSize, fill: mutedColour})
	}
	if len(legend) == 0 {
		return y
	}
	const swatch, gap, rowHeight = 30.0, 18.0, 20.0
	y += 10
	x := margin
	row := y + rowHeight/2
	for _, e := range legend {
		name := fit(e.name, usable-swatch, textSize)
		itemWidth := swatch + textWidth(name, textSize)
		if x > margin && x+itemWidth > width-margin {
			x = margin
			row += rowHeight
		}
		if e.bar {
			c.rect(x+6, row-6, 14, 12, colour(e.index), "")
		} else {
			c.line(x, row, x+24, row, colour(e.index), 2, "")
			c.marker(e.index, x+12, row, colour(e.index), "")
		}
		c.text(x+swatch, row+textSize*0.35, name, textStyle{size: textSize, fill: textColour})
		x += itemWidth + gap
	}
	return row + rowHeight/2
}

// area is the rectangle the data is plotted in, in px.
type area struct{ left, top, width, height float64 }

func (a area) right() float64  { return a.left + a.width }
func (a area) bottom() float64 { return a.top + a.height }

// clipID names the clip path that keeps data inside the plot area (with a
// little slack, so markers on its edge are drawn whole).
const clipID = "plot-area"

func (c *canvas) clipPath(a area) {
	const slack = 6
	c.printf(`<defs><clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath></defs>`+"\n",
		clipID, num(a.left-slack), num(a.top-slack), num(a.width+2*slack), num(a.height+2*slack))
}

// yGrid draws the horizontal grid lines, the Y tick labels and the Y axis
// label of a plot area.
func (c *canvas) yGrid(a area, y axis, label string) {
	for _, at := range y.minor {
		py := a.bottom() - y.fracAt(at)*a.height
		c.line(a.left, py, a.right(), py, minorColour, 1, "")
	}
	for _, t := range y.ticks {
		py := a.bottom() - y.fracAt(t.at)*a.height
		c.line(a.left, py, a.right(), py, gridColour, 1, "")
		c.line(a.left-4, py, a.left, py, axisColour, 1, "")
		c.text(a.left-7, py+tickSize*0.35, t.label, textStyle{size: tickSize, anchor: "end", fill: textColour})
	}
	if label != "" {
		c.text(margin+textSize, a.top+a.height/2, fit(label, a.height, textSize), textStyle{size: textSize, anchor: "middle", fill: textColour, rotate: true})
	}
}

// refs draws reference lines; those outside the Y range are left out, as
// drawing them on the frame would misstate where they are. Each label sits
// above its line at the right end, pushed further up where it would cover
// the label of a line below it, or under its line at the top of the plot.
func (c *canvas) refs(a area, y axis, refs []Ref) {
	type placed struct {
		py    float64
		label string
	}
	var lines []placed
	for _, r := range refs {
		if f := y.frac(r.Y); f >= 0 && f <= 1 {
			lines = append(lines, placed{py: a.bottom() - f*a.height, label: fit(r.Label, a.width-8, tickSize)})
		}
	}
	slices.SortStableFunc(lines, func(p, q placed) int { return cmp.Compare(q.py, p.py) }) // bottom first
	for _, l := range lines {
		c.line(a.left, l.py, a.right(), l.py, refColour, 1.5, ` stroke-dasharray="6 4"`)
	}
	const labelHeight = tickSize + 3
	below := math.Inf(1) // the baseline of the label placed last, lower on the page
	for _, l := range lines {
		if l.label == "" {
			continue
		}
		base := min(l.py-5, below-labelHeight)
		if base-tickSize < a.top {
			base = max(l.py+tickSize+3, a.top+tickSize+1)
		}
		below = base
		// On a translucent plate, so that a line crossing it does not hide it.
		w := textWidth(l.label, tickSize)
		c.rect(a.right()-6-w-2, base-tickSize+1, w+4, tickSize+3, "#ffffff", ` fill-opacity="0.8"`)
		c.text(a.right()-6, base, l.label, textStyle{size: tickSize, anchor: "end", fill: mutedColour})
	}
}

// frame draws the plot area's left and bottom axes.
func (c *canvas) frame(a area) {
	c.line(a.left, a.top, a.left, a.bottom(), axisColour, 1, "")
	c.line(a.left, a.bottom(), a.right(), a.bottom(), axisColour, 1, "")
}
