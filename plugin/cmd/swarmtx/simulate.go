package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/sim"
	"github.com/swarmtx/swarmtx/peerpool/sim/plot"
)

// cmdSimulate runs `swarmtx simulate`: a swarm of viewers on a virtual
// clock, with the real peer protocol, tracker and trust ledger and a
// modelled network, and prints what it measured. No network is used. With
// --sweep it runs once per viewer count, and with --plot it charts how the
// figures scale with the swarm.
func cmdSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("swarmtx simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	peers := fs.Int("peers", 1000, "viewers watching at once")
	duration := fs.Duration("duration", 60*time.Second, "virtual time to simulate")
	churn := fs.Float64("churn", 0, "percent of the viewers replaced by newcomers each minute")
	hostile := fs.Float64("hostile", 0, "share of the viewers (0..1) that corrupt every part they send")
	nat := fs.Float64("nat", 0, "share of viewer pairs (0..1) whose NATs keep them from connecting")
	seed := fs.Uint64("seed", 1, "names the run: the same seed gives the same figures")
	mixText := fs.String("upload-mix", crowd.DefaultMix.String(), "viewers' upload caps: shares of the viewers and their upload in multiples of the bit rate")
	bitrate := fs.Int64("bitrate", 1_000_000, "the rendition's bit rate, bit/s")
	part := fs.Duration("part", 500*time.Millisecond, "part duration")
	holdBack := fs.Int("hold-back", 3, "parts behind the live edge the viewers play")
	swarmWait := fs.Duration("swarm-wait", 0, "how long a viewer waits for the swarm before fetching a part over HTTP (0: as long as its playback buffer allows)")
	startupWait := fs.Duration("startup-wait", 0, "how long after joining a viewer waits for its first parts from the swarm before fetching them over HTTP (0: not at all, as the Go viewer)")
	seedsMin := fs.Int("seeds-min", 1, "the fewest viewers the server seeds each part to (the hub's default)")
	seedsMax := fs.Int("seeds-max", 0, "the most viewers the server seeds each part to (0: the hub's default, 8 or one per 16 viewers, whichever is more)")
	latency := fs.Duration("latency", 40*time.Millisecond, "one-way latency scale: each viewer's access latency is up to half of it, a path adds a quarter")
	jitter := fs.Duration("jitter", 10*time.Millisecond, "the most a frame is delayed beyond its path's latency")
	joinWindow := fs.Duration("join-window", 0, "time over which the viewers first join (0: 5s for a flash crowd, half the duration for --steady)")
	steady := fs.Bool("steady", false, "viewers join evenly over the join window instead of as a flash crowd")
	maxWall := fs.Duration("max-wall", 0, "stop a run after this much real time and report the virtual time simulated so far; with --sweep, each run's limit (0: no limit)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object (one line per run with --sweep)")
	sweepList := fs.String("sweep", "", "comma-separated viewer counts (e.g. 30,300,1000) to simulate one after another, instead of --peers, with the other flags the same")
	plotDir := fs.String("plot", "", "write charts to this directory: with --sweep, the figures against the viewer count ("+copiesChartFile+", "+p2pChartFile+"); else the server's egress through the run ("+egressChartFile+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "swarmtx simulate: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected arguments %q", fs.Args())
	}
	mix, err := crowd.ParseMix(*mixText)
	if err != nil {
		return fail("--upload-mix: %v", err)
	}
	if *churn < 0 || *churn > 100 {
		return fail("--churn %g is not a percentage in 0..100", *churn)
	}
	if flagGiven(fs, "plot") && *plotDir == "" {
		return fail("--plot needs a directory")
	}
	counts := []int{*peers}
	if flagGiven(fs, "sweep") {
		if flagGiven(fs, "peers") {
			return fail("--peers and --sweep both set the viewer count: give one of them")
		}
		if counts, err = parseSweep(*sweepList); err != nil {
			return fail("--sweep: %v", err)
		}
	}
	cfg := sim.Config{
		Peers: *peers, Duration: *duration, Seed: *seed, PartDuration: *part, BitrateBps: *bitrate, Mix: mix,
		Latency: *latency, Jitter: *jitter, NAT: *nat, JoinWindow: *joinWindow, Steady: *steady,
		ChurnPerMinute: *churn / 100, Hostile: *hostile, HoldBack: *holdBack, PeerWait: *swarmWait, StartupWait: *startupWait,
		SeedsMin: *seedsMin, SeedsMax: *seedsMax,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	// Every run's settings are checked before the first starts, so that a
	// sweep does not fail after minutes of work.
	for _, n := range counts {
		cfg.Peers = n
		if err := cfg.Validate(); err != nil {
			return fail("%v", err)
		}
	}
	if *plotDir != "" {
		if err := os.MkdirAll(*plotDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "swarmtx simulate: --plot: %v\n", err)
			return 1
		}
	}
	ctx, cancel := signalContext()
	defer cancel()
	settings := fmt.Sprintf("upload mix %s (mean %.2fx), churn %g%%/min, hostile %g, NAT %g, seed %d", mix, mix.Mean(), *churn, *hostile, *nat, *seed)
	var runs []sweepRun
	for i, n := range counts {
		cfg.Peers = n
		if i > 0 && !*asJSON {
			fmt.Fprintln(stdout)
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "simulate: %d viewers for %v, %s\n", n, *duration, settings)
		}
		r, cut, err := simulateOnce(ctx, cfg, *maxWall, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "swarmtx simulate: %d viewers: %v\n", n, err)
			return 1
		}
		runs = append(runs, sweepRun{peers: n, report: r, cut: cut})
		if *asJSON {
			line, err := json.Marshal(r)
			if err != nil {
				fmt.Fprintf(stderr, "swarmtx simulate: encoding the report: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s\n", line)
			continue
		}
		if err := r.Print(stdout); err != nil {
			fmt.Fprintf(stderr, "swarmtx simulate: %v\n", err)
			return 1
		}
	}
	if *plotDir != "" {
		var written []string
		var err error
		if len(counts) > 1 || flagGiven(fs, "sweep") {
			written, err = writeSweepCharts(*plotDir, runs, *duration, settings)
		} else {
			written, err = writeEgressChart(*plotDir, runs[0], *bitrate, settings)
		}
		if err != nil {
			fmt.Fprintf(stderr, "swarmtx simulate: --plot: %v\n", err)
			return 1
		}
		for _, path := range written {
			fmt.Fprintf(stderr, "swarmtx simulate: wrote %s\n", path)
		}
	}
	return 0
}

// simulateOnce runs one simulation, cut off after maxWall of real time if
// that is positive; cut says it was, and the report then covers the
// virtual time reached.
func simulateOnce(ctx context.Context, cfg sim.Config, maxWall time.Duration, stderr io.Writer) (r sim.Report, cut bool, err error) {
	if maxWall > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, maxWall)
		defer stop()
	}
	r, err = sim.Run(ctx, cfg)
	if errors.Is(err, context.DeadlineExceeded) {
		// --max-wall: the figures of the virtual time simulated are still worth having.
		fmt.Fprintf(stderr, "swarmtx simulate: --max-wall %v reached at %v of virtual time: %v\n", maxWall, r.Duration, err)
		return r, true, nil
	}
	return r, false, err
}

// flagGiven says whether the command line set the named flag, as opposed
// to its default standing.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// parseSweep reads --sweep's comma-separated list of viewer counts.
func parseSweep(list string) ([]int, error) {
	var counts []int
	for i, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("entry %d of %q is empty", i+1, list)
		}
		n, err := strconv.Atoi(entry)
		if err != nil {
			return nil, fmt.Errorf("%q is not a viewer count", entry)
		}
		if n < 1 {
			return nil, fmt.Errorf("%d is not a positive viewer count", n)
		}
		if slices.Contains(counts, n) {
			return nil, fmt.Errorf("%d is listed twice", n)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// sweepRun is one run of a sweep, as the charts need it.
type sweepRun struct {
	peers  int
	report sim.Report
	cut    bool // by --max-wall, short of the duration asked for
}

// The sweep's charts, named for what they set against the viewer count.
const (
	copiesChartFile = "sim-copies-vs-peers.svg"
	p2pChartFile    = "sim-p2p-vs-peers.svg"
)

// The targets swarmtx is held to, in server copies of a rendition: media
// (seeding plus HTTP) and all of the server's egress, signaling included.
const (
	mediaCopiesTarget = 5
	totalCopiesTarget = 10
)

// writeSweepCharts charts a sweep's runs against their viewer counts in
// dir and returns the files' paths. A chart is drawn in full before its
// file is written, so a failure leaves no half-written file.
func writeSweepCharts(dir string, runs []sweepRun, duration time.Duration, settings string) ([]string, error) {
	runs = slices.Clone(runs)
	slices.SortFunc(runs, func(a, b sweepRun) int { return a.peers - b.peers })
	var media, total, p2p, stalls []plot.Point
	var cut []string
	for _, run := range runs {
		x := float64(run.peers)
		media = append(media, plot.Point{X: x, Y: run.report.ServerCopies})
		total = append(total, plot.Point{X: x, Y: run.report.TotalCopies})
		p2p = append(p2p, plot.Point{X: x, Y: 100 * run.report.P2PShare})
		stalls = append(stalls, plot.Point{X: x, Y: 100 * run.report.StallRatio})
		if run.cut {
			cut = append(cut, fmt.Sprintf("%d viewers at %v", run.peers, run.report.Duration))
		}
	}
	// The subtitle says what each point is; runs cut short by --max-wall
	// are named, as their figures cover less time than the others'.
	subtitle := fmt.Sprintf("Each point is one swarmtx simulate run of %v on a virtual clock: %s.", duration, settings)
	if len(cut) > 0 {
		subtitle += " Cut short by --max-wall: " + strings.Join(cut, ", ") + "."
	}
	// When the swarm cannot carry the viewers, the copies grow with them by
	// orders of magnitude; a logarithmic Y axis keeps the targets readable
	// beside them. It cannot show zero copies (a run that cut nothing).
	logCopies := !slices.ContainsFunc(runs, func(run sweepRun) bool {
		return run.report.ServerCopies <= 0 || run.report.TotalCopies <= 0
	})
	copiesLabel := "server copies"
	if logCopies {
		copiesLabel += " (log scale)"
	}
	const xLabel = "viewers watching at once (log scale)"
	charts := []struct {
		file  string
		chart plot.LineChart
	}{
		{copiesChartFile, plot.LineChart{
			Title:    "Server copies against swarm size",
			Subtitle: "Server copies: bytes the server sent ÷ bytes of the rendition. " + subtitle,
			XLabel:   xLabel, YLabel: copiesLabel, LogX: true, LogY: logCopies,
			Series: []plot.Series{
				{Name: "media (seeding + HTTP)", Points: media},
				{Name: "all egress (media + signaling)", Points: total},
			},
			Refs: []plot.Ref{
				{Y: mediaCopiesTarget, Label: fmt.Sprintf("target: media ≤ %d copies", mediaCopiesTarget)},
				{Y: totalCopiesTarget, Label: fmt.Sprintf("target: all egress ≤ %d copies", totalCopiesTarget)},
			},
		}},
		{p2pChartFile, plot.LineChart{
			Title:    "P2P share and stalls against swarm size",
			Subtitle: "P2P share: honest viewers' part bytes that came from peers. Stall ratio: their stall time ÷ their watch time. " + subtitle,
			XLabel:   xLabel, YLabel: "percent", LogX: true,
			YMin: new(0.0), YMax: new(100.0), ValueLabels: true,
			Series: []plot.Series{
				{Name: "P2P share %", Points: p2p},
				{Name: "stall ratio %", Points: stalls},
			},
		}},
	}
	var written []string
	for _, c := range charts {
		path, err := writeChart(dir, c.file, c.chart)
		if err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// writeChart draws chart in full, then writes it to dir/file, so a failure
// leaves no half-written file.
func writeChart(dir, file string, chart plot.LineChart) (string, error) {
	var svg bytes.Buffer
	if err := chart.WriteSVG(&svg); err != nil {
		return "", fmt.Errorf("drawing %s: %w", file, err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, svg.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("writing the chart: %w", err)
	}
	return path, nil
}

// egressChartFile charts one run's server egress against time.
const egressChartFile = "sim-egress-over-time.svg"

// writeEgressChart charts what the server sent through one run, interval
// by interval, as a rate in copies of the stream: how joins and churn move
// it, which the run's totals average away.
func writeEgressChart(dir string, run sweepRun, bitrateBps int64, settings string) ([]string, error) {
	var media, total []plot.Point
	var from time.Duration
	for _, smp := range run.report.Series {
		secs := (smp.At - from).Seconds()
		from = smp.At
		if secs <= 0 {
			continue
		}
		copiesPerSec := func(b int64) float64 { return float64(8*b) / float64(bitrateBps) / secs }
		x := smp.At.Seconds()
		media = append(media, plot.Point{X: x, Y: copiesPerSec(smp.SeedBytes + smp.HTTPBytes)})
		total = append(total, plot.Point{X: x, Y: copiesPerSec(smp.SeedBytes + smp.HTTPBytes + smp.SignalOutBytes)})
	}
	if len(media) == 0 {
		return nil, fmt.Errorf("the run of %v has no sampled interval to chart", run.report.Duration)
	}
	subtitle := fmt.Sprintf("One swarmtx simulate run of %d viewers on a virtual clock: %s. A copy is the stream's bit rate; plain HTTP costs one per viewer.", run.peers, settings)
	if run.cut {
		subtitle += fmt.Sprintf(" Cut short by --max-wall at %v.", run.report.Duration)
	}
	egress := plot.LineChart{
		Title:    "Server egress through the run",
		Subtitle: subtitle,
		XLabel:   "virtual time, s", YLabel: "server egress, copies of the stream",
		YMin: new(0.0),
		Series: []plot.Series{
			{Name: "media (seeding + HTTP)", Points: media},
			{Name: "all egress (media + signaling)", Points: total},
		},
		Refs: []plot.Ref{{Y: mediaCopiesTarget, Label: fmt.Sprintf("target: media ≤ %d copies", mediaCopiesTarget)}},
	}
	path, err := writeChart(dir, egressChartFile, egress)
	if err != nil {
		return nil, err
	}
	return []string{path}, nil
}
