package plot

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzLineChart feeds a line chart untrusted numbers and labels: it must
// either draw a well-formed document or refuse with ErrInvalid, and never
// panic.
func FuzzLineChart(f *testing.F) {
	f.Add("title", "series", "x label", 30.0, 1.5, 1000.0, 2.4, true, 0.0, 100.0, false, 5.0, "target ≤ 5", 720, 440, true)
	f.Add("", "", "", 0.0, 0.0, 0.0, 0.0, false, 0.0, 0.0, true, 0.0, "", 0, 0, false)
	f.Add("<&>\x00", "\xff\xfe", "]]>", -1.0, -1e308, 1e308, 5e-324, true, -1.0, 1.0, true, 1e300, "\x1b[0m", 240, 180, true)
	f.Fuzz(func(t *testing.T, title, name, label string, x1, y1, x2, y2 float64, logX bool, yMin, yMax float64, fixY bool, refY float64, refLabel string, width, height int, valueLabels bool) {
		chart := LineChart{
			Title: title, Subtitle: label, XLabel: label, YLabel: name, LogX: logX,
			Series: []Series{
				{Name: name, Points: []Point{{x1, y1}, {x2, y2}}},
				{Name: title, Points: []Point{{x2, y1}}},
			},
			Refs:        []Ref{{Y: refY, Label: refLabel}},
			ValueLabels: valueLabels,
			Width:       width % 2000, Height: height % 2000,
		}
		if fixY {
			chart.YMin, chart.YMax = &yMin, &yMax
		}
		var buf bytes.Buffer
		if err := chart.WriteSVG(&buf); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("an error that is not ErrInvalid: %v", err)
			}
			if buf.Len() > 0 {
				t.Fatalf("%d bytes written for an invalid chart", buf.Len())
			}
			return
		}
		parseSVG(t, buf.Bytes())
	})
}
