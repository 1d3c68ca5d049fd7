package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/peer"
)

// cmdCrowd runs `swarmtx crowd`: viewers of one stream with a mix of
// upload caps, printing their figures as the swarm forms, until Ctrl-C or
// --duration. The origin's own view (server copies) is `swarmtx status`.
func cmdCrowd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("swarmtx crowd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "", "the stream on the swarmtx origin, e.g. http://origin:8880/live/show/ (required)")
	n := fs.Int("n", 30, fmt.Sprintf("number of viewers (1..%d)", crowd.MaxViewers))
	rendition := fs.String("rendition", "", "rendition the viewers follow (default: source if offered, else the first the stream lists)")
	mixText := fs.String("upload-mix", crowd.DefaultMix.String(), `viewers' upload caps: shares of the crowd and their upload in multiples of the rendition's bit rate ("1x": all the same; "0x": nobody uploads)`)
	joinEvery := fs.Duration("join-every", 200*time.Millisecond, "time between two viewers joining")
	swarmWait := fs.Duration("swarm-wait", 0, "how long a viewer waits for the swarm before fetching a part over HTTP (0: as long as its playback buffer allows; the browser player waits 1.5 part durations, at most 1s)")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	every := fs.Duration("every", 5*time.Second, "how often to print the crowd's figures")
	asJSON := fs.Bool("json", false, "print each report as a JSON object on its own line")
	ifaces := fs.String("interfaces", "", "comma-separated network interfaces to use for WebRTC (default: all but loopback)")
	debug := fs.Bool("debug", false, "log the viewers' protocol in detail on stderr")
	var creds credentialFlags
	creds.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "swarmtx crowd: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected arguments %q", fs.Args())
	}
	if *u == "" {
		return fail("--url is required, e.g. --url http://127.0.0.1:8880/live/show/")
	}
	header, err := creds.header()
	if err != nil {
		return fail("%v", err)
	}
	mix, err := crowd.ParseMix(*mixText)
	if err != nil {
		return fail("--upload-mix: %v", err)
	}
	if *swarmWait < 0 {
		return fail("--swarm-wait %v is negative", *swarmWait)
	}
	if *every <= 0 {
		return fail("--every %v is not positive", *every)
	}
	list := commaList(*ifaces)
	api, err := peer.NewAPI(list)
	if err != nil {
		return fail("--interfaces: %v", err)
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := signalContext()
	defer cancel()
	c, err := crowd.Start(ctx, crowd.Config{
		URL: *u, Viewers: *n, Rendition: *rendition, Mix: mix, JoinEvery: *joinEvery, SwarmWait: *swarmWait, Header: header, API: api, Logger: log,
	})
	if err != nil {
		return fail("%v", err)
	}
	report := func(s crowd.Snapshot, final bool) {
		if *asJSON {
			line, _ := json.Marshal(struct {
				crowd.Snapshot
				Final    bool    `json:"final"`
				P2PShare float64 `json:"p2p_share"`
			}{s, final, s.P2PShare()})
			fmt.Fprintf(stdout, "%s\n", line)
			return
		}
		tag := "crowd"
		if final {
			tag = "crowd, final"
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", tag, s.Elapsed.Round(time.Second), s)
	}
	if !*asJSON {
		s := c.Snapshot()
		fmt.Fprintf(stdout, "crowd: %d viewers of %s (%s, %.2f Mbit/s), upload mix %s (mean %.2fx), one joining every %v\n",
			s.Viewers, s.URL, s.Rendition, float64(s.BitRate)/1e6, s.Mix, mix.Mean(), *joinEvery)
	}
	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
	}
	tick := time.NewTicker(*every)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
			report(c.Snapshot(), false)
		}
	}
	// The last figures are the crowd's while it still plays.
	final := c.Snapshot()
	c.Close()
	report(final, true)
	if final.BadParts > 0 {
		return 1
	}
	return 0
}
