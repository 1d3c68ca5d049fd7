package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// Exit codes of `swarmtx attach`.
const (
	ExitOK    = 0 // detached by SIGINT/SIGTERM, or the plugin ended the stream
	ExitRetry = 1 // plugin unreachable or lost, or a transient stream failure: let MediaMTX restart the hook
	ExitUsage = 2 // malformed hook call (printed, then idle until SIGINT)
)

// RunAttach connects to (or launches) the plugin and attaches req until
// ctx ends (the hook got SIGINT/SIGTERM). Every event is printed to out as
// one line. It returns the process exit code:
//
//   - ctx ended: ExitOK.
//   - the plugin ended the stream itself: ExitOK.
//   - a permanent failure (contract.ErrPermanent, e.g. unsupported codec):
//     printed once, then idle until ctx ends, then ExitOK — so MediaMTX's
//     runOnReadyRestart does not loop the same error.
//   - the plugin connection broke (plugin crashed) or a transient failure:
//     ExitRetry at once, so MediaMTX restarts the hook, which relaunches the
//     plugin if needed.
func RunAttach(ctx context.Context, o Options, req contract.AttachRequest, out io.Writer) int {
	if o.Log == nil {
		o.Log = out
	}
	prefix := "swarmtx attach " + req.Path + ": "
	say := func(format string, args ...any) { fmt.Fprintf(out, prefix+format+"\n", args...) }
	if err := req.Validate(); err != nil {
		say("ERROR (permanent) %v; idle until the stream stops", oneLine(err))
		<-ctx.Done()
		return ExitUsage
	}
	conn, err := Connect(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			return ExitOK
		}
		say("ERROR cannot reach the swarmtx plugin: %v", oneLine(err))
		return ExitRetry
	}
	how := "reattached to"
	if conn.Launched {
		how = "launched"
	}
	say("%s plugin pid %d (version %s, %s %s)", how, conn.Info.Pid, conn.Info.Version, conn.Info.Network, conn.Info.Address)
	err = conn.Attach(ctx, req, func(ev contract.Event) { say("%s", FormatEvent(ev)) })
	switch {
	case ctx.Err() != nil:
		say("detached")
		return ExitOK
	case err == nil:
		say("stream ended by the plugin")
		return ExitOK
	case contract.IsPermanent(err):
		say("ERROR (permanent) %s; the stream stays served by MediaMTX as before; idle until the stream stops", oneLine(err))
		<-ctx.Done()
		say("detached")
		return ExitOK
	case errors.Is(err, contract.ErrPluginGone):
		say("ERROR %s; exiting so MediaMTX restarts this hook", oneLine(err))
		return ExitRetry
	default:
		say("ERROR %s; exiting so MediaMTX restarts this hook", oneLine(err))
		return ExitRetry
	}
}

// FormatEvent renders an event as one line.
func FormatEvent(ev contract.Event) string {
	var b strings.Builder
	b.WriteString(ev.Kind.String())
	if ev.Kind == contract.EventError && ev.Permanent {
		b.WriteString(" (permanent)")
	}
	if ev.Message != "" {
		b.WriteString(" " + oneLine(errors.New(ev.Message)))
	}
	if len(ev.Renditions) > 0 {
		b.WriteString(" renditions=" + strings.Join(ev.Renditions, ","))
	}
	if ev.URL != "" {
		b.WriteString(" url=" + ev.URL)
	}
	return b.String()
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return s
}

// RunStatus reattaches (never launches) and prints the plugin's status in
// format f. It returns 1 with a clear message when no plugin runs.
func RunStatus(ctx context.Context, o Options, f StatusFormat, out, errOut io.Writer) int {
	conn, err := Reattach(ctx, o)
	if err != nil {
		fmt.Fprintf(errOut, "swarmtx status: %v\n", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := conn.Status(sctx)
	if err != nil {
		fmt.Fprintf(errOut, "swarmtx status: %v\n", err)
		return 1
	}
	if err := WriteStatus(out, st, time.Now(), f); err != nil {
		fmt.Fprintf(errOut, "swarmtx status: %v\n", err)
		return 1
	}
	return 0
}
