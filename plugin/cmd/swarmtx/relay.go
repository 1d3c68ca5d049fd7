package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/swarmtx/swarmtx/peerpool/peer"
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
	iceUDP := fs.String("ice-udp", "", "one UDP address for all WebRTC traffic, e.g. :8881 (default: a random port per connection)")
	iceTCP := fs.String("ice-tcp", "", "a TCP address for ICE-TCP, for viewers whose network blocks UDP, e.g. :8881 (default: none)")
	publicHosts := fs.String("public-hosts", "", "comma-separated public IPs or names of this host, offered besides its interfaces' addresses (behind a 1:1 NAT)")
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
	list := commaList(*ifaces)
	ctx, cancel := signalContext()
	defer cancel()
	cfg := relay.Config{
		URL: *u, Rendition: *rendition, UploadCapBps: *capBps, Header: header, Interfaces: list, Logger: log,
	}
	if *iceUDP != "" || *iceTCP != "" || *publicHosts != "" {
		cfg.Network = &peer.ServerNetwork{UDPAddress: *iceUDP, TCPAddress: *iceTCP, PublicHosts: commaList(*publicHosts), Interfaces: list}
	}
	err = relay.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "swarmtx relay: %v\n", err)
		return 2
	}
	return 0
}
