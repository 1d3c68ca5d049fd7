// Command gortmp-server is a small RTMP ingest server built on
// github.com/yutopp/go-rtmp's server side that hands every published
// stream to swarmtx in push mode: it launches `swarmtx plugin` as its own
// (go-plugin, managed), and for each publish pushes the H.264 and AAC
// configuration and access units through swarmtx's plugin contract. The
// streams get swarmtx's LL-HLS ladder and peer-to-peer swarm without
// MediaMTX.
//
//	gortmp-server -listen :1935 -swarmtx /usr/local/bin/swarmtx -config /etc/swarmtx.yml
//
// OBS publishes to rtmp://HOST:1935/live/show; viewers play
// http://HOST:8880/live/show/ (the swarmtx config's listen address).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/sirupsen/logrus"
	"github.com/yutopp/go-rtmp"

	"github.com/swarmtx/swarmtx/plugin/config"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("gortmp-server", flag.ContinueOnError)
	listen := fs.String("listen", ":1935", "RTMP listen address")
	exe := fs.String("swarmtx", "swarmtx", "the swarmtx binary, launched as `swarmtx plugin`")
	cfgPath := fs.String("config", "", "swarmtx config file: the plugin's settings and the streams' options (default: built-in defaults)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		log.Error("swarmtx config", "error", err)
		return 2
	}
	sp, err := newSwarmtxPlugin(*exe, *cfgPath, os.Stderr)
	if err != nil {
		log.Error("swarmtx plugin", "error", err)
		return 2
	}
	defer plugin.CleanupClients()
	defer sp.kill()
	// Launch now, so a wrong binary or config shows at start, not at the
	// first publish.
	if _, err := sp.get(); err != nil {
		log.Error("swarmtx plugin did not start", "error", err)
		return 1
	}
	log.Info("swarmtx plugin started", "log", cfg.LogFile, "origin", cfg.Listen)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("RTMP listen", "error", err)
		return 1
	}
	var conns sync.Map // net.Conn -> struct{}: closed at shutdown, which ends their pushes
	var handlers sync.WaitGroup
	srv := rtmp.NewServer(&rtmp.ServerConfig{
		OnConnect: func(c net.Conn) (io.ReadWriteCloser, *rtmp.ConnConfig) {
			conns.Store(c, struct{}{})
			remote := c.RemoteAddr().String()
			h := newConnHandler(log, remote, cfg.StreamOptions(), sp.get)
			handlers.Add(1)
			h.closed = handlers.Done
			return &trackedConn{Conn: c, conns: &conns}, &rtmp.ConnConfig{
				Handler: h,
				ControlState: rtmp.StreamControlStateConfig{
					DefaultBandwidthWindowSize: 6 * 1024 * 1024 / 8,
				},
				Logger: rtmpLogger(log.With("remote", remote), h.reported),
			}
		},
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("RTMP ingest listening", "address", ln.Addr().String())
	err = srv.Serve(ln)
	conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	// Let every publish close its push before the plugin goes: swarmtx
	// then finishes each stream's last segments.
	waitTimeout(&handlers, 15*time.Second)
	if ctx.Err() == nil {
		log.Error("RTMP server stopped", "error", err)
		return 1
	}
	log.Info("stopping")
	return 0
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	conns *sync.Map
}

func (c *trackedConn) Close() error {
	c.conns.Delete(c.Conn)
	return c.Conn.Close()
}

// rtmpLogger passes go-rtmp's warnings and errors (a failed handshake,
// broken AMF, a publisher's connection lost) to slog, one line each:
// go-rtmp prints errors with their stack trace.
// reported tells that the handler already logged why the connection
// ends, which go-rtmp then repeats.
func rtmpLogger(log *slog.Logger, reported func() bool) logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	l.SetLevel(logrus.WarnLevel)
	l.AddHook(slogHook{log, reported})
	return l
}

type slogHook struct {
	log      *slog.Logger
	reported func() bool
}

func (slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h slogHook) Fire(e *logrus.Entry) error {
	msg, _, _ := strings.Cut(e.Message, "\n")
	msg = strings.TrimPrefix(msg, "Server closed by error: Err = ")
	if e.Level <= logrus.ErrorLevel {
		if h.reported() {
			return nil
		}
		h.log.Error("RTMP connection ended with an error", "error", msg)
	} else {
		h.log.Warn("RTMP", "warning", msg)
	}
	return nil
}

// waitTimeout waits for wg, at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
