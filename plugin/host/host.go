// Package host is the hook side (`swarmtx attach`, `swarmtx status`): it
// finds the running plugin through the reattach file in the state directory,
// launches it when none runs (detached, under a lock so two hooks never
// launch two), and attaches one stream for as long as the hook lives.
//
// A host never calls go-plugin's Client.Kill or GRPCClient.Close: either
// shuts the shared plugin down (FACTS). When the hook exits, its connection
// simply closes, which ends its Attach call and detaches its stream.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/state"
)

// ErrNoPlugin means no plugin runs for the state directory.
var ErrNoPlugin = errors.New("no swarmtx plugin is running")

// Options say where to find or how to launch the plugin.
type Options struct {
	StateDir   string // from the swarmtx config
	ConfigPath string // passed to the plugin as --config ("" = none)
	// MediaMTXConfig is passed to the plugin as --mediamtx-config ("" =
	// none): the plugin runs in /, so a relative path is made absolute.
	MediaMTXConfig string
	Version        string    // swarmtx version of this binary
	Executable     string    // plugin binary; "" = os.Executable()
	Log            io.Writer // go-plugin client messages (warnings); nil = discard
	// LaunchTimeout bounds waiting for the launch lock and the plugin's
	// handshake. Default 30s.
	LaunchTimeout time.Duration
}

// Conn is a connection to the plugin.
type Conn struct {
	*contract.Client
	Info     state.ReattachInfo
	Launched bool // this call launched the plugin
	// raw is kept referenced but never closed or killed (see package doc).
	raw *plugin.Client
}

func (o *Options) logger() hclog.Logger {
	out := o.Log
	if out == nil {
		out = io.Discard
	}
	return hclog.New(&hclog.LoggerOptions{Name: "swarmtx", Output: out, Level: hclog.Warn})
}

// Reattach connects to the plugin named by the reattach file, checking it
// answers Status. It never launches one.
func Reattach(ctx context.Context, o Options) (*Conn, error) {
	ri, err := state.ReadReattach(o.StateDir)
	if err != nil {
		if errors.Is(err, state.ErrNoReattach) {
			return nil, fmt.Errorf("%w (state dir %s)", ErrNoPlugin, o.StateDir)
		}
		return nil, err
	}
	return reattach(ctx, o, ri)
}

func reattach(ctx context.Context, o Options, ri state.ReattachInfo) (*Conn, error) {
	if !state.PidAlive(ri.Pid) {
		return nil, fmt.Errorf("%w: pid %d from %s is gone", ErrNoPlugin, ri.Pid, filepath.Join(o.StateDir, state.ReattachFile))
	}
	var addr net.Addr
	switch ri.Network {
	case "unix":
		addr = &net.UnixAddr{Name: ri.Address, Net: "unix"}
	case "tcp":
		a, err := net.ResolveTCPAddr("tcp", ri.Address)
		if err != nil {
			return nil, err
		}
		addr = a
	}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.PluginMap(nil, nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Reattach: &plugin.ReattachConfig{
			Protocol: plugin.Protocol(ri.Protocol), ProtocolVersion: ri.ProtocolVersion, Addr: addr, Pid: ri.Pid,
		},
		Logger: o.logger(),
	})
	cl, err := dispense(c)
	if err != nil {
		return nil, fmt.Errorf("%w: reattach to pid %d at %s: %v", ErrNoPlugin, ri.Pid, ri.Address, err)
	}
	cl.HostVersion = o.Version
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cl.Status(sctx); err != nil {
		return nil, fmt.Errorf("%w: plugin pid %d does not answer: %v", ErrNoPlugin, ri.Pid, err)
	}
	return &Conn{Client: cl, Info: ri, raw: c}, nil
}

func dispense(c *plugin.Client) (*contract.Client, error) {
	rpc, err := c.Client()
	if err != nil {
		return nil, err
	}
	raw, err := rpc.Dispense(contract.PluginName)
	if err != nil {
		return nil, err
	}
	cl, ok := raw.(*contract.Client)
	if !ok {
		return nil, fmt.Errorf("unexpected plugin type %T", raw)
	}
	return cl, nil
}

func compatible(o Options, ri state.ReattachInfo) bool {
	return ri.ProtocolVersion == contract.ProtocolVersion && ri.Version == o.Version && ri.Protocol == string(plugin.ProtocolGRPC)
}

// Connect returns a connection to the running plugin, launching one when
// none runs, and replacing one whose protocol or swarmtx version differs
// from ours (Shutdown RPC, else SIGTERM to its pid).
func Connect(ctx context.Context, o Options) (*Conn, error) {
	if o.LaunchTimeout == 0 {
		o.LaunchTimeout = 30 * time.Second
	}
	if err := state.EnsureDir(o.StateDir); err != nil {
		return nil, err
	}
	// Fast path: no lock.
	if ri, err := state.ReadReattach(o.StateDir); err == nil && compatible(o, ri) {
		if c, err := reattach(ctx, o, ri); err == nil {
			return c, nil
		}
	}
	lctx, cancel := context.WithTimeout(ctx, o.LaunchTimeout)
	defer cancel()
	lock, err := state.AcquireLock(lctx, filepath.Join(o.StateDir, state.LaunchLock))
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	lock.WritePid(os.Getpid())

	// Re-check: another hook may have launched it while we waited.
	ri, rerr := state.ReadReattach(o.StateDir)
	if rerr == nil {
		if compatible(o, ri) {
			if c, err := reattach(ctx, o, ri); err == nil {
				return c, nil
			}
		} else if state.PidAlive(ri.Pid) {
			if err := replace(lctx, o, ri); err != nil {
				return nil, err
			}
		}
	}
	return launch(lctx, o)
}

// replace stops a running plugin of another version.
func replace(ctx context.Context, o Options, ri state.ReattachInfo) error {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "swarmtx: replacing plugin pid %d (version %q, protocol %d) with version %q, protocol %d\n",
			ri.Pid, ri.Version, ri.ProtocolVersion, o.Version, contract.ProtocolVersion)
	}
	asked := false
	if ri.ProtocolVersion == contract.ProtocolVersion {
		if c, err := reattach(ctx, o, ri); err == nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			asked = c.Shutdown(sctx, fmt.Sprintf("replaced by swarmtx %s (hook pid %d)", o.Version, os.Getpid())) == nil
			cancel()
		}
	}
	if !asked {
		if !state.LooksLikePlugin(ri.Pid) {
			// Pid reused by something else: the old plugin is gone.
			return nil
		}
		if err := syscall.Kill(ri.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stopping old plugin pid %d: %w", ri.Pid, err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for state.PidAlive(ri.Pid) && state.LooksLikePlugin(ri.Pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(ri.Pid, syscall.SIGKILL)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for old plugin pid %d to exit: %w", ri.Pid, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// launch starts `<exe> plugin [--config X] [--mediamtx-config Y]` detached (own session, SIGPIPE
// and the hook's pipes irrelevant to it) and records the reattach file.
func launch(ctx context.Context, o Options) (*Conn, error) {
	exe := o.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding swarmtx binary: %w", err)
		}
	}
	args := []string{"plugin"}
	if o.ConfigPath != "" {
		// The plugin runs in /, not in MediaMTX's working directory.
		abs, err := filepath.Abs(o.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("config path %s: %w", o.ConfigPath, err)
		}
		args = append(args, "--config", abs)
	}
	if o.MediaMTXConfig != "" {
		abs, err := filepath.Abs(o.MediaMTXConfig)
		if err != nil {
			return nil, fmt.Errorf("mediamtx config path %s: %w", o.MediaMTXConfig, err)
		}
		args = append(args, "--mediamtx-config", abs)
	}
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	start := o.LaunchTimeout
	if dl, ok := ctx.Deadline(); ok {
		start = time.Until(dl)
	}
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.PluginMap(nil, nil),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Cmd:              cmd,
		AutoMTLS:         false,
		Managed:          false,
		StartTimeout:     start,
		Logger:           o.logger(),
	})
	cl, err := dispense(c)
	if err != nil {
		return nil, fmt.Errorf("launching swarmtx plugin (%s %v): %w (see the plugin log)", exe, args, err)
	}
	cl.HostVersion = o.Version
	rc := c.ReattachConfig()
	if rc == nil || rc.Addr == nil {
		return nil, errors.New("launched plugin gave no reattach config")
	}
	ri := state.ReattachInfo{
		Protocol: string(rc.Protocol), ProtocolVersion: rc.ProtocolVersion,
		Network: rc.Addr.Network(), Address: rc.Addr.String(), Pid: rc.Pid, Version: o.Version,
	}
	if ri.ProtocolVersion == 0 {
		ri.ProtocolVersion = contract.ProtocolVersion
	}
	if err := state.WriteReattach(o.StateDir, ri); err != nil {
		return nil, fmt.Errorf("writing reattach file: %w", err)
	}
	return &Conn{Client: cl, Info: ri, Launched: true, raw: c}, nil
}
