package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/sim"
)

// cmdSimulate runs `swarmtx simulate`: a swarm of viewers on a virtual
// clock, with the real peer protocol, tracker and trust ledger and a
// modelled network, and prints what it measured. No network is used.
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
	seedsMin := fs.Int("seeds-min", 2, "the fewest viewers the server seeds each part to (the hub's default)")
	seedsMax := fs.Int("seeds-max", 8, "the most viewers the server seeds each part to (the hub's default)")
	latency := fs.Duration("latency", 40*time.Millisecond, "one-way latency scale: each viewer's access latency is up to half of it, a path adds a quarter")
	jitter := fs.Duration("jitter", 10*time.Millisecond, "the most a frame is delayed beyond its path's latency")
	joinWindow := fs.Duration("join-window", 0, "time over which the viewers first join (0: 5s for a flash crowd, half the duration for --steady)")
	steady := fs.Bool("steady", false, "viewers join evenly over the join window instead of as a flash crowd")
	maxWall := fs.Duration("max-wall", 0, "stop after this much real time and report the virtual time simulated so far (0: no limit)")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
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
	cfg := sim.Config{
		Peers: *peers, Duration: *duration, Seed: *seed, PartDuration: *part, BitrateBps: *bitrate, Mix: mix,
		Latency: *latency, Jitter: *jitter, NAT: *nat, JoinWindow: *joinWindow, Steady: *steady,
		ChurnPerMinute: *churn / 100, Hostile: *hostile, HoldBack: *holdBack, PeerWait: *swarmWait,
		SeedsMin: *seedsMin, SeedsMax: *seedsMax,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if err := cfg.Validate(); err != nil {
		return fail("%v", err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	if *maxWall > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, *maxWall)
		defer stop()
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "simulate: %d viewers for %v, upload mix %s (mean %.2fx), churn %g%%/min, hostile %g, NAT %g, seed %d\n",
			*peers, *duration, mix, mix.Mean(), *churn, *hostile, *nat, *seed)
	}
	r, err := sim.Run(ctx, cfg)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// --max-wall: the figures of the virtual time simulated are still worth having.
		fmt.Fprintf(stderr, "swarmtx simulate: --max-wall %v reached: %v\n", *maxWall, err)
	case err != nil:
		fmt.Fprintf(stderr, "swarmtx simulate: %v\n", err)
		return 1
	}
	if *asJSON {
		line, err := json.Marshal(r)
		if err != nil {
			fmt.Fprintf(stderr, "swarmtx simulate: encoding the report: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", line)
		return 0
	}
	if err := r.Print(stdout); err != nil {
		fmt.Fprintf(stderr, "swarmtx simulate: %v\n", err)
		return 1
	}
	return 0
}
