package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MediaMTXOptions configures StartMediaMTX.
type MediaMTXOptions struct {
	// RunOnReady, when set, becomes pathDefaults.runOnReady with
	// runOnReadyRestart: yes, i.e. the swarmtx hook as a user would install it.
	// MediaMTX splits it like a shell would but runs no shell, and expands
	// $MTX_PATH etc. itself.
	RunOnReady string
	// Paths adds sections under `paths:` (name or ~regexp → keys). Keys must be
	// ones MediaMTX knows: it rejects unknown keys.
	Paths map[string]map[string]any
	// Extra sets or overrides top-level keys of the generated mediamtx.yml.
	Extra map[string]any
	// ListenHost is the address the servers bind to. Empty means 127.0.0.1
	// outside a test namespace and all addresses inside one (so a browser can
	// reach MediaMTX on NetnsHost as well as on loopback).
	ListenHost string
	// Env is added to MediaMTX's environment; hooks inherit it.
	Env []string
	// LogLevel defaults to "info" (hook start/stop and publishes are logged).
	LogLevel string
}

// MediaMTX is a running MediaMTX server.
type MediaMTX struct {
	RTMPPort, SRTPort, HLSPort, RTSPPort int
	// Host is an address clients in this process can dial (127.0.0.1).
	Host string
	// ConfigPath is the generated mediamtx.yml (the plugin's --mediamtx-config).
	ConfigPath string
	// LogPath receives MediaMTX's stdout and stderr, and so the hooks' output.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
}

// StartMediaMTX writes a mediamtx.yml with free ports into t.TempDir(), starts
// the cached MediaMTX binary, waits until its RTMP and HLS listeners accept
// connections and stops it (SIGINT, then SIGKILL after 10 s) on cleanup.
func StartMediaMTX(t testing.TB, opts MediaMTXOptions) *MediaMTX {
	t.Helper()
	bin, err := MediaMTXPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := &MediaMTX{
		RTMPPort:   FreePort(t),
		SRTPort:    FreePort(t),
		HLSPort:    FreePort(t),
		RTSPPort:   FreePort(t),
		Host:       "127.0.0.1",
		ConfigPath: filepath.Join(dir, "mediamtx.yml"),
		LogPath:    filepath.Join(dir, "mediamtx.log"),
		done:       make(chan struct{}),
	}
	listen := opts.ListenHost
	if listen == "" && !InNetns() {
		listen = "127.0.0.1"
	}
	addr := func(p int) string { return net.JoinHostPort(listen, strconv.Itoa(p)) }
	logLevel := opts.LogLevel
	if logLevel == "" {
		logLevel = "info"
	}

	cfg := map[string]any{
		"logLevel":        logLevel,
		"logDestinations": []string{"stdout"},
		// Everything we do not test is off so nothing binds a fixed port.
		"api":      false,
		"metrics":  false,
		"pprof":    false,
		"playback": false,
		"webrtc":   false,
		// RTSP stays on because hooks receive RTSP_PORT; TCP-only transport
		// means MediaMTX opens no RTP/RTCP/multicast UDP ports at all.
		"rtsp":           true,
		"rtspTransports": []string{"tcp"},
		"rtspAddress":    addr(m.RTSPPort),
		"rtmp":           true,
		"rtmpAddress":    addr(m.RTMPPort),
		"srt":            true,
		"srtAddress":     addr(m.SRTPort),
		// MediaMTX's own LL-HLS, the baseline swarmtx is compared against.
		"hls":        true,
		"hlsAddress": addr(m.HLSPort),
		"hlsVariant": "lowLatency",
	}
	pd := map[string]any{}
	if opts.RunOnReady != "" {
		pd["runOnReady"] = opts.RunOnReady
		pd["runOnReadyRestart"] = true
	}
	cfg["pathDefaults"] = pd
	paths := map[string]any{"all_others": map[string]any{}}
	for k, v := range opts.Paths {
		paths[k] = v
	}
	cfg["paths"] = paths
	for k, v := range opts.Extra {
		cfg[k] = v
	}
	var b strings.Builder
	writeYAML(&b, cfg, 0)
	if err := os.WriteFile(m.ConfigPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	logf, err := os.Create(m.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, m.ConfigPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), opts.Env...)
	// Own process group so cleanup can reach hooks MediaMTX failed to stop,
	// and die with the test binary if it crashes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start mediamtx: %v", err)
	}
	logf.Close() // the child holds its own descriptor
	m.cmd = cmd
	go func() { cmd.Wait(); close(m.done) }()
	t.Cleanup(m.stop)
	t.Logf("mediamtx: rtmp=%d srt=%d hls=%d rtsp=%d config=%s log=%s",
		m.RTMPPort, m.SRTPort, m.HLSPort, m.RTSPPort, m.ConfigPath, m.LogPath)

	deadline := time.Now().Add(15 * time.Second)
	for _, p := range []int{m.RTMPPort, m.HLSPort} {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(m.Host, strconv.Itoa(p)), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-m.done:
				t.Fatalf("mediamtx exited during startup (%v):\n%s", cmd.ProcessState, m.Log())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("mediamtx port %d not accepting after 15s:\n%s", p, m.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return m
}

func (m *MediaMTX) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	// SIGINT lets MediaMTX close listeners and SIGINT its hooks, which is how
	// the swarmtx hook learns that a stream is gone.
	m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	// MediaMTX waits for its hooks on shutdown; whatever is still in its
	// process group now is a straggler. (A plugin started with setsid has
	// left the group on purpose and is not touched.)
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
}

// Stop stops MediaMTX now (it is also stopped on cleanup).
func (m *MediaMTX) Stop() { m.stop() }

// Log returns everything MediaMTX and its hooks wrote so far.
func (m *MediaMTX) Log() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

// WaitLog waits until the log contains substr.
func (m *MediaMTX) WaitLog(ctx context.Context, substr string) error {
	return waitFor(ctx, 100*time.Millisecond, func() bool { return strings.Contains(m.Log(), substr) },
		func() string {
			return fmt.Sprintf("mediamtx log never contained %q; log:\n%s", substr, tail(m.Log(), 4000))
		})
}

// RTMPURL is the URL to publish or read path over RTMP on loopback.
func (m *MediaMTX) RTMPURL(path string) string {
	return fmt.Sprintf("rtmp://%s:%d/%s", m.Host, m.RTMPPort, path)
}

// HLSURL is MediaMTX's own HLS playlist for path, on host (127.0.0.1, or
// NetnsHost for a browser inside the test namespace).
func (m *MediaMTX) HLSURL(host, path string) string {
	return fmt.Sprintf("http://%s/%s/index.m3u8", net.JoinHostPort(host, strconv.Itoa(m.HLSPort)), path)
}

// writeYAML emits block YAML with keys sorted and scalars JSON-quoted (a JSON
// string is a valid YAML double-quoted scalar), so no YAML library is needed.
func writeYAML(b *strings.Builder, v map[string]any, indent int) {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pad := strings.Repeat("  ", indent)
	for _, k := range keys {
		fmt.Fprintf(b, "%s%s:", pad, strconv.Quote(k))
		switch x := v[k].(type) {
		case map[string]any:
			if len(x) == 0 {
				b.WriteString(" {}\n")
				continue
			}
			b.WriteString("\n")
			writeYAML(b, x, indent+1)
		default:
			fmt.Fprintf(b, " %s\n", yamlScalar(x))
		}
	}
}

func yamlScalar(v any) string {
	if d, ok := v.(time.Duration); ok {
		return strconv.Quote(d.String())
	}
	// JSON is valid YAML flow syntax, which covers lists and nested objects
	// such as authInternalUsers.
	j, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("harness: cannot write %T to mediamtx.yml: %v", v, err))
	}
	return string(j)
}

func waitFor(ctx context.Context, every time.Duration, ok func() bool, msg func() string) error {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), msg())
		case <-tk.C:
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
