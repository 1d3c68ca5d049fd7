package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/swarmtx/swarmtx/peerpool/relay"
)

// cmdRelay runs `swarmtx relay`: a high-upload peer in a stream's swarm,
// for an operator to run on another box.
func cmdRelay(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("swarmtx relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "", "the stream on the swarmtx origin, e.g. http://origin:8880/live/show/ (required)")
	rendition := fs.String("rendition", "source", "rendition to carry")
	capBps := fs.Int64("upload-cap", 0, "upload cap in bytes/s (0: no cap)")
	ifaces := fs.String("interfaces", "", "comma-separated network interfaces to use for WebRTC (default: all)")
	debug := fs.Bool("debug", false, "log the peer protocol in detail")
	var creds credentialFlags
	creds.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "swarmtx relay: unexpected arguments %q\n", fs.Args())
		return 2
	}
	header, err := creds.header()
	if err != nil {
		fmt.Fprintf(stderr, "swarmtx relay: %v\n", err)
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	list := interfaceList(*ifaces)
	ctx, cancel := signalContext()
	defer cancel()
	err = relay.Run(ctx, relay.Config{
		URL: *u, Rendition: *rendition, UploadCapBps: *capBps, Header: header, Interfaces: list, Logger: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "swarmtx relay: %v\n", err)
		return 2
	}
	return 0
}
