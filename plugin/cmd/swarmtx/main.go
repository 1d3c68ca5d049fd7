// Command swarmtx is the MediaMTX hook (`swarmtx attach`), the plugin
// process (`swarmtx plugin`) and the operator's tool (`swarmtx status`).
//
// In mediamtx.yml:
//
//	pathDefaults:
//	  runOnReady: swarmtx attach --config /etc/swarmtx.yml
//	  runOnReadyRestart: yes
//
// Exit codes of `swarmtx attach`: 0 after SIGINT/SIGTERM (the stream stopped)
// or when the plugin ended the stream; 1 when the plugin cannot be reached
// or the connection to it broke (MediaMTX restarts the hook, which relaunches
// the plugin); 2 for a malformed hook call (missing path, bad flag, bad
// config). Malformed calls and permanent stream errors (e.g. unsupported
// codec) are printed once and the hook then stays idle until SIGINT, because
// exiting would make runOnReadyRestart repeat the same error every few
// seconds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/swarmtx/swarmtx/bridge/ladder"
	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/host"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
	"github.com/swarmtx/swarmtx/plugin/server"
)

// version is set with -ldflags "-X main.version=v1.2.3"; otherwise it is
// derived from the build's VCS stamp. Hooks replace a plugin whose version
// differs from theirs.
var version = ""

func swarmtxVersion() string {
	if version != "" {
		return version
	}
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			v += "-" + rev + dirty
		}
	}
	return v
}

const usage = `swarmtx: peer-to-peer LL-HLS egress for MediaMTX

Usage:
  swarmtx attach [flags]   MediaMTX hook (runOnReady): attach MTX_PATH to the plugin
  swarmtx plugin [flags]   run the plugin process (launched by attach, or by systemd)
  swarmtx status [flags]   show the running plugin and its streams (-v more, --json for scripts)
  swarmtx relay --url URL  carry a stream's swarm from this box (a high-upload peer)
  swarmtx crowd --url URL  run a crowd of viewers of a stream (demo, load test)
  swarmtx simulate [flags] simulate a swarm on a virtual clock (the real protocol, no network)
  swarmtx version          print the version
  swarmtx help             this text

Run "swarmtx <command> -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "attach":
		return cmdAttach(args[1:], stderr)
	case "plugin":
		return cmdPlugin(args[1:], stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "relay":
		return cmdRelay(args[1:], stderr)
	case "crowd":
		return cmdCrowd(args[1:], stdout, stderr)
	case "simulate":
		return cmdSimulate(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "swarmtx %s (plugin protocol %d)\n", swarmtxVersion(), contract.ProtocolVersion)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "swarmtx: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

type attachFlags struct {
	config, mediamtxConfig, path, query, pullURL, readUser, readPass string
	ladder                                                           string
	segmentDuration, partDuration, reconnectWindow                   time.Duration
	windowSegments, holdBackParts                                    int
}

func cmdAttach(args []string, stderr io.Writer) int {
	ctx, cancel := signalContext()
	defer cancel()
	signal.Ignore(syscall.SIGPIPE) // MediaMTX may go away before us

	fs := flag.NewFlagSet("swarmtx attach", flag.ContinueOnError)
	// A hook's output lands in MediaMTX's log: a bad flag gets one line
	// naming it, not the whole usage text.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var f attachFlags
	fs.StringVar(&f.config, "config", "", "swarmtx config file (default: built-in defaults)")
	fs.StringVar(&f.mediamtxConfig, "mediamtx-config", "", "MediaMTX's mediamtx.yml, read for the RTSP/RTMP address to pull from (default: MediaMTX's own search path, else MediaMTX defaults)")
	fs.StringVar(&f.path, "path", os.Getenv("MTX_PATH"), "MediaMTX path to attach (default $MTX_PATH)")
	fs.StringVar(&f.query, "query", os.Getenv("MTX_QUERY"), "query of the publish URL (default $MTX_QUERY)")
	fs.StringVar(&f.pullURL, "pull-url", "", "rtmp://, rtmps://, rtsp:// or rtsps:// URL the plugin reads the stream from (default: RTSP URL derived from mediamtx.yml)")
	fs.StringVar(&f.readUser, "read-user", "", "MediaMTX user allowed to read the stream")
	fs.StringVar(&f.readPass, "read-pass", "", "password of --read-user")
	fs.StringVar(&f.ladder, "ladder", "", "ABR ladder for this path, e.g. source,720p,480p (default: config ladder)")
	fs.DurationVar(&f.segmentDuration, "segment-duration", 0, "segment duration for this path (default: config segmentDuration)")
	fs.DurationVar(&f.partDuration, "part-duration", 0, "part duration for this path (default: config partDuration)")
	fs.DurationVar(&f.reconnectWindow, "reconnect-window", 0, "publisher reconnect window for this path (default: config reconnectWindow)")
	fs.IntVar(&f.windowSegments, "window-segments", 0, "playlist window in segments for this path (default: config windowSegments)")
	fs.IntVar(&f.holdBackParts, "hold-back-parts", 0, "parts behind the live edge players play for this path; more gives the swarm longer per part (default: config holdBackParts)")

	malformed := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "swarmtx attach: "+format+"; idle until the stream stops (SIGINT)\n", a...)
		<-ctx.Done()
		return host.ExitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return 0
		}
		return malformed("%v", err) // the flag package already named the flag
	}
	if fs.NArg() > 0 {
		return malformed("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	if f.path == "" {
		return malformed("no path: set --path or the MTX_PATH variable (MediaMTX sets it for runOnReady)")
	}
	if err := contract.ValidatePath(f.path); err != nil {
		src := "MTX_PATH"
		if set["path"] {
			src = "--path"
		}
		return malformed("%s: %v", src, err)
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return malformed("--config: %v", err)
	}
	opts := cfg.StreamOptions()
	if set["ladder"] {
		opts.Ladder = f.ladder
	}
	if set["segment-duration"] {
		opts.SegmentDuration = f.segmentDuration
	}
	if set["part-duration"] {
		opts.PartDuration = f.partDuration
	}
	if set["reconnect-window"] {
		opts.ReconnectWindow = f.reconnectWindow
	}
	if set["window-segments"] {
		opts.WindowSegments = f.windowSegments
	}
	if set["hold-back-parts"] {
		opts.HoldBackParts = f.holdBackParts
	}
	if err := opts.Validate(); err != nil {
		return malformed("%s", flagNames(err))
	}
	if _, err := ladder.ParseLadder(opts.Ladder); err != nil {
		return malformed("--ladder %q: %v", opts.Ladder, err)
	}

	mpath := f.mediamtxConfig
	if !set["mediamtx-config"] {
		mpath = mtxconf.Find()
	}
	mc, err := mtxconf.Load(mpath)
	if err != nil {
		return malformed("--mediamtx-config: %v", err)
	}
	pull := f.pullURL
	if !set["pull-url"] {
		mc.ReadUser, mc.ReadPass = f.readUser, f.readPass
		if pull, err = mtxconf.PullURL(mc, f.path); err != nil {
			return malformed("%v", err)
		}
	}
	req := contract.AttachRequest{
		Path: f.path, Query: f.query,
		SourceType: os.Getenv("MTX_SOURCE_TYPE"), SourceID: os.Getenv("MTX_SOURCE_ID"),
		PullURL: pull, Options: opts,
	}
	if err := req.Validate(); err != nil {
		return malformed("%s", flagNames(err))
	}
	return host.RunAttach(ctx, host.Options{
		StateDir: cfg.StateDir, ConfigPath: f.config, MediaMTXConfig: mpath, Version: swarmtxVersion(),
	}, req, stderr)
}

// flagNames rewrites contract field names into the attach flags or
// variables that set them.
func flagNames(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	return strings.NewReplacer(
		"options.segment_duration", "--segment-duration",
		"options.part_duration", "--part-duration",
		"options.reconnect_window", "--reconnect-window",
		"options.window_segments", "--window-segments",
		"options.hold_back_parts", "--hold-back-parts",
		"options.ladder", "--ladder",
		"invalid query", "invalid --query/MTX_QUERY",
		"invalid source_type", "invalid MTX_SOURCE_TYPE",
		"invalid source_id", "invalid MTX_SOURCE_ID",
		"invalid pull_url", "invalid --pull-url",
	).Replace(s)
}

// configOnly parses the flags of a command that takes --config, plus any
// flags more defines, and loads that config. It returns the exit code to
// use when ok is false.
func configOnly(name string, args []string, stderr io.Writer, more ...func(*flag.FlagSet)) (cfg config.Config, code int, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "swarmtx config file (default: built-in defaults)")
	for _, m := range more {
		m(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, 0, false
		}
		return cfg, host.ExitUsage, false
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return cfg, host.ExitUsage, false
	}
	return cfg, 0, true
}

func cmdPlugin(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("swarmtx plugin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "swarmtx config file (default: built-in defaults)")
	mediamtx := fs.String("mediamtx-config", "", "MediaMTX's mediamtx.yml, whose auth settings decide access (overrides the config key mediamtxConfig)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return host.ExitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "swarmtx plugin: %v\n", err)
		return host.ExitUsage
	}
	if *mediamtx != "" {
		cfg.MediaMTXConfig = *mediamtx
	}
	proc, err := server.Prepare(cfg, swarmtxVersion())
	if err != nil {
		fmt.Fprintf(stderr, "swarmtx plugin: %v\n", err)
		return 1
	}
	bridge, stop, err := newBridge(cfg, proc.Log)
	if err != nil {
		proc.Log.Error("creating bridge", "error", err)
		fmt.Fprintf(stderr, "swarmtx plugin: %v\n", err)
		return 1
	}
	defer stop()
	if err := proc.Serve(context.Background(), bridge); err != nil {
		proc.Log.Error("plugin failed", "error", err)
		return 1
	}
	return 0
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	var asJSON, verbose bool
	cfg, code, ok := configOnly("swarmtx status", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the status as one JSON document (snake_case fields), for scripts")
		fs.BoolVar(&verbose, "v", false, "also print copies split into HTTP and seeding, each stream's URL and bytes served")
	})
	if !ok {
		return code
	}
	f := host.StatusTable
	switch {
	case asJSON:
		f = host.StatusJSON
	case verbose:
		f = host.StatusVerbose
	}
	ctx, cancel := signalContext()
	defer cancel()
	return host.RunStatus(ctx, host.Options{StateDir: cfg.StateDir, Version: swarmtxVersion()}, f, stdout, stderr)
}
