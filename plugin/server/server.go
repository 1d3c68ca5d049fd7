// Package server is the plugin side (`swarmtx plugin`): it serves a
// contract.Bridge over go-plugin's gRPC transport as a long-lived process
// that outlives the hook that launched it (see DESIGN §2).
//
// Rules it follows (FACTS): SIGPIPE is ignored; nothing is written to stdout
// before the go-plugin handshake line; logs go to the plugin's own log file,
// never to the launching hook's pipes (those die with the hook); no AutoMTLS
// so that any later hook can reattach.
//
// A Go server that pushes its streams (contract.Client.Push) launches the
// plugin in go-plugin's managed way instead and sets contract.EnvManaged in
// its environment: the plugin then belongs to that server. It writes no
// reattach file (no hook should find it), stops when the server kills it
// or exits (its parent changes), and leaves SIGINT to the server, since a
// Ctrl-C in a terminal reaches the whole process group.
package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/state"
)

// Process is a prepared plugin process: logging set up, state directory
// locked. Create it with Prepare before building the Bridge (which may want
// the logger), then call Serve.
type Process struct {
	Log     *slog.Logger
	cfg     config.Config
	logOut  io.Writer
	lock    *state.Lock
	version string

	origStdout, origStderr *os.File      // the process's own fd 1 and fd 2
	swapped                chan struct{} // closed by the first RPC served: go-plugin's stdio swap is done

	stdioRestored func(ok bool) // test hook: called once Serve has restored stdio, or given up

	// Managed is set from contract.EnvManaged by Prepare: a Go server
	// launched the plugin as its own (see the package doc).
	Managed bool
}

// Prepare readies the process to be a plugin: ignores SIGPIPE, creates the
// state directory, opens the log file and points file descriptor 2 at it (so
// runtime panics land there too, not in a dead hook's pipe), points stdin at
// /dev/null, and takes the plugin lock so only one plugin serves a state
// directory (waiting up to 10s for an exiting one to let go).
func Prepare(cfg config.Config, version string) (*Process, error) {
	signal.Ignore(syscall.SIGPIPE)
	if err := state.EnsureDir(cfg.StateDir); err != nil {
		return nil, err
	}
	var out io.Writer = os.Stderr
	if cfg.LogFile != "stderr" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("log file %s: %w", cfg.LogFile, err)
		}
		if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
			return nil, fmt.Errorf("redirect stderr to %s: %w", cfg.LogFile, err)
		}
		out = f
	}
	if null, err := os.Open(os.DevNull); err == nil {
		_ = syscall.Dup3(int(null.Fd()), 0, 0)
		null.Close()
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})).With("pid", os.Getpid())

	lockPath := cfg.StateDir + "/" + state.PluginLock
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lock, err := state.AcquireLock(ctx, lockPath)
	if err != nil {
		err = fmt.Errorf("another swarmtx plugin (pid %d) serves state dir %s: %w", state.LockHolderPid(lockPath), cfg.StateDir, err)
		log.Error("cannot start", "error", err)
		return nil, err
	}
	lock.WritePid(os.Getpid())
	managed := os.Getenv(contract.EnvManaged) == "1"
	if managed {
		log.Info("managed by the process that launched it", "parent_pid", os.Getppid())
	}
	return &Process{Log: log, cfg: cfg, logOut: out, lock: lock, version: version, Managed: managed}, nil
}

// Serve serves bridge until ctx ends, SIGTERM or SIGINT arrives, or a hook
// asks for Shutdown (version replacement). It works both when launched by a
// hook through go-plugin and when started by hand or by systemd. In both
// cases it writes the reattach file itself once it listens, and removes it
// on exit if it still names this process.
func (p *Process) Serve(ctx context.Context, bridge contract.Bridge) error {
	defer p.lock.Unlock()
	log := p.Log
	stopSignals := []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	if p.Managed {
		stopSignals = stopSignals[:1]
	}
	ctx, stop := signal.NotifyContext(ctx, stopSignals...)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if p.Managed {
		go watchParent(ctx, cancel)
	}

	// Standalone (systemd) start: supply the cookie go-plugin checks.
	if os.Getenv(contract.Handshake.MagicCookieKey) == "" {
		os.Setenv(contract.Handshake.MagicCookieKey, contract.Handshake.MagicCookieValue)
	}
	// The unix socket lives in the state directory.
	os.Setenv(plugin.EnvUnixSocketDir, p.cfg.StateDir)

	handshake, err := p.interceptHandshake(log)
	if err != nil {
		return err
	}

	gp := &contract.GRPCPlugin{
		Impl:         statusFiller{bridge, p.cfg.Listen},
		Version:      p.version,
		Logger:       log,
		ShutdownFunc: func(reason string) { cancel(fmt.Errorf("shutdown requested: %s", reason)) },
	}
	var gs *grpc.Server
	gsReady := make(chan struct{})
	p.swapped = make(chan struct{})
	var swapOnce sync.Once
	served1 := func() { swapOnce.Do(func() { close(p.swapped) }) }
	served := make(chan struct{})
	go func() {
		defer close(served)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: contract.Handshake,
			Plugins:         plugin.PluginSet{contract.PluginName: gp},
			GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
				opts = append(opts,
					grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
						served1()
						return h(ctx, req)
					}),
					grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
						served1()
						return h(srv, ss)
					}))
				gs = grpc.NewServer(opts...)
				close(gsReady)
				return gs
			},
			Logger: hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Output: p.logOut, Level: hclog.Info, JSONFormat: true}),
		})
	}()

	select {
	case ri := <-handshake:
		log.Info("plugin serving", "version", p.version, "network", ri.Network, "address", ri.Address, "state_dir", p.cfg.StateDir)
		ok := p.restoreStdio(ri, log)
		if p.stdioRestored != nil {
			p.stdioRestored(ok)
		}
	case <-served:
		return errors.New("go-plugin Serve ended before the handshake (see log)")
	case <-ctx.Done():
	}

	select {
	case <-ctx.Done():
	case <-served:
		if p.Managed {
			// go-plugin's Kill: the owning server stopped its plugin.
			log.Info("plugin stopped by the process that launched it")
			gp.WaitAttaches(5 * time.Second)
			return nil
		}
		state.RemoveReattachIf(p.cfg.StateDir, os.Getpid())
		return errors.New("gRPC server stopped unexpectedly")
	}
	log.Info("plugin stopping", "reason", context.Cause(ctx))
	state.RemoveReattachIf(p.cfg.StateDir, os.Getpid())
	select {
	case <-gsReady:
		// Stop (not GracefulStop): attach calls last as long as streams do.
		// Their contexts end, bridges detach, hooks see the connection go.
		gs.Stop()
	case <-time.After(5 * time.Second):
	}
	if !gp.WaitAttaches(10 * time.Second) {
		log.Warn("some attach calls did not return within 10s")
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
	}
	log.Info("plugin stopped")
	return nil
}

// restoreStdio undoes go-plugin's swap of os.Stdout/os.Stderr for pipes
// that are only drained while some host streams them (GRPCStdio): with no
// hook connected, a library's fmt.Fprintln(os.Stderr, ...) would block once
// the pipe filled. It points both back at our own descriptors (fd 1 is
// /dev/null, fd 2 the log file by then). go-plugin makes the swap on its
// own goroutine after printing the handshake, with nothing to synchronise
// on, but before it starts serving: the first RPC the server handles is the
// first moment known to come after it (polling os.Stdout instead raced with
// the swap). So the plugin asks itself for its health, unless a host
// already called, and restores once that call is served.
func (p *Process) restoreStdio(ri state.ReattachInfo, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	select {
	case <-p.swapped:
	default:
		if err := p.pingSelf(ctx, ri); err != nil {
			log.Warn("cannot call the plugin's own gRPC server; go-plugin's stdio pipes stay", "error", err)
			return false
		}
	}
	select {
	case <-p.swapped:
		os.Stdout, os.Stderr = p.origStdout, p.origStderr
		return true
	case <-ctx.Done():
		log.Warn("the plugin's own gRPC call was not served; go-plugin's stdio pipes stay")
		return false
	}
}

// pingSelf makes one health check on the plugin's own gRPC server.
func (p *Process) pingSelf(ctx context.Context, ri state.ReattachInfo) error {
	target := ri.Address
	if ri.Network == "unix" {
		target = "unix:" + ri.Address
	}
	conn, err := grpc.DialContext(ctx, target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial %s: %w", target, err)
	}
	defer conn.Close()
	if _, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{}); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

// interceptHandshake swaps os.Stdout for a pipe so that the go-plugin
// handshake line can be read, recorded in the reattach file, and forwarded
// to the real stdout, which is then closed (pointed at /dev/null): the
// plugin keeps no descriptor on a hook's pipe after the handshake.
func (p *Process) interceptHandshake(log *slog.Logger) (<-chan state.ReattachInfo, error) {
	origFd, err := syscall.Dup(1)
	if err != nil {
		return nil, err
	}
	orig := os.NewFile(uintptr(origFd), "stdout")
	r, w, err := os.Pipe()
	if err != nil {
		orig.Close()
		return nil, err
	}
	p.origStdout, p.origStderr = os.Stdout, os.Stderr
	os.Stdout = w
	ch := make(chan state.ReattachInfo, 1)
	go func() {
		defer r.Close()
		defer w.Close()
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			log.Error("reading handshake", "error", err)
			return
		}
		ri, perr := parseHandshake(line, p.version)
		if perr != nil {
			log.Error("unexpected handshake line", "line", strings.TrimSpace(line), "error", perr)
		} else if p.Managed {
			// Its owner holds the only connection; hooks must not find it.
		} else if err := state.WriteReattach(p.cfg.StateDir, ri); err != nil {
			log.Error("writing reattach file", "error", err)
		}
		_, _ = orig.WriteString(line)
		orig.Close()
		if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			_ = syscall.Dup3(int(null.Fd()), 1, 0)
			null.Close()
		}
		if perr == nil {
			ch <- ri
		}
	}()
	return ch, nil
}

// parentPoll is how often a managed plugin looks for its launcher.
const parentPoll = 500 * time.Millisecond

// watchParent stops a managed plugin once the process that launched it is
// gone: a killed or crashed Go server cannot call Kill, and its plugin
// would otherwise hold the port and the state directory. An orphan's
// parent changes (to init or a subreaper), which needs no cooperation
// from the launcher.
func watchParent(ctx context.Context, cancel context.CancelCauseFunc) {
	parent := os.Getppid()
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != parent {
				cancel(fmt.Errorf("the process that launched this managed plugin (pid %d) exited", parent))
				return
			}
		}
	}
}

// parseHandshake parses "CORE|APP|NETWORK|ADDR|PROTOCOL|CERT".
func parseHandshake(line, version string) (state.ReattachInfo, error) {
	parts := strings.Split(strings.TrimSpace(line), "|")
	if len(parts) < 5 {
		return state.ReattachInfo{}, errors.New("too few fields")
	}
	pv, err := strconv.Atoi(parts[1])
	if err != nil {
		return state.ReattachInfo{}, err
	}
	return state.ReattachInfo{
		Protocol: parts[4], ProtocolVersion: pv, Network: parts[2], Address: parts[3],
		Pid: os.Getpid(), Version: version,
	}, nil
}

type statusFiller struct {
	contract.Bridge
	listen string
}

func (s statusFiller) Status(ctx context.Context) (contract.Status, error) {
	st, err := s.Bridge.Status(ctx)
	if err == nil && st.ListenAddress == "" {
		st.ListenAddress = s.listen
	}
	return st, err
}
