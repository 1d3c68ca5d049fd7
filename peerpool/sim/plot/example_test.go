package plot_test

import (
	"log"
	"os"

	"github.com/swarmtx/swarmtx/peerpool/sim/plot"
)

// A sweep of simulated swarm sizes against the targets it is held to.
func ExampleLineChart() {
	chart := plot.LineChart{
		Title:  "Server copies vs viewers",
		XLabel: "viewers at once", YLabel: "server copies",
		LogX: true,
		Series: []plot.Series{
			{Name: "media", Points: []plot.Point{{X: 30, Y: 1.5}, {X: 300, Y: 2.1}, {X: 1000, Y: 2.4}}},
			{Name: "all egress", Points: []plot.Point{{X: 30, Y: 1.7}, {X: 300, Y: 3.0}, {X: 1000, Y: 3.9}}},
		},
		Refs: []plot.Ref{{Y: 5, Label: "target: media ≤ 5 copies"}, {Y: 10, Label: "target: all egress ≤ 10 copies"}},
	}
	if err := chart.WriteSVG(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// Configurations side by side, each measured two ways.
func ExampleBarChart() {
	chart := plot.BarChart{
		Title:  "30 viewers, three ways",
		Groups: []string{"hls.js HTTP only", "swarmtx", "p2p-media-loader defaults"},
		Series: []plot.BarSeries{
			{Name: "server copies", Values: []float64{30, 1.5, 9.2}},
			{Name: "lag p50 s", Values: []float64{2.1, 2.4, 7.5}},
		},
	}
	if err := chart.WriteSVG(os.Stdout); err != nil {
		log.Fatal(err)
	}
}
