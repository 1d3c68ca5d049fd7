package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/plugin/host"
)

func TestMain(m *testing.M) { harness.RunInNetns(m) }

// swarmtxBinary builds the swarmtx command once per test run.
func swarmtxBinary(t testing.TB) string { return goBinary(t, "../plugin/cmd/swarmtx") }

// built holds the binaries goBinary built, by package directory.
var built struct {
	sync.Mutex
	paths map[string]string
	errs  map[string]error
}

// goBinary builds the main package in dir (relative to this package) once
// per test run and returns the binary's path.
func goBinary(t testing.TB, dir string) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if built.paths == nil {
		built.paths, built.errs = map[string]string{}, map[string]error{}
	}
	if p, ok := built.paths[dir]; ok {
		return p
	}
	if err, ok := built.errs[dir]; ok {
		t.Fatal(err)
	}
	out, err := os.MkdirTemp("", "swarmtx-bin")
	if err == nil {
		p := filepath.Join(out, filepath.Base(dir))
		var msg []byte
		if msg, err = exec.Command("go", "build", "-o", p, dir).CombinedOutput(); err == nil {
			built.paths[dir] = p
			return p
		}
		err = fmt.Errorf("go build %s: %v\n%s", dir, err, msg)
	}
	built.errs[dir] = err
	t.Fatal(err)
	return ""
}

// stackOptions shape one MediaMTX + swarmtx deployment.
type stackOptions struct {
	// AttachFlags are added to the hook's command line.
	AttachFlags string
	// Paths are MediaMTX per-path sections.
	Paths map[string]map[string]any
	// MediaMTX sets top-level keys of mediamtx.yml (e.g. authInternalUsers).
	MediaMTX map[string]any
	// Config is added to swarmtx's YAML config.
	Config string
	// TLS serves the origin over HTTPS with a certificate from a CA the
	// test makes (stack.tls); base and browserBase are then https URLs.
	TLS bool
}

// stack is MediaMTX with swarmtx installed as its docs say: one hook line.
type stack struct {
	t        testing.TB
	bin      string
	cfgPath  string
	stateDir string
	httpPort int
	mtx      *harness.MediaMTX
	tls      *originTLS // nil for plain HTTP
}

func startStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, bin: swarmtxBinary(t), httpPort: harness.FreePort(t)}
	// The state directory holds a unix socket: keep its path short.
	dir, err := os.MkdirTemp("", "stx")
	if err != nil {
		t.Fatal(err)
	}
	s.stateDir = dir
	s.cfgPath = filepath.Join(dir, "swarmtx.yml")
	cfg := fmt.Sprintf("listen: \":%d\"\nstateDir: %s\nffmpeg: ffmpeg\nlogLevel: debug\n%s", s.httpPort, dir, o.Config)
	if o.TLS {
		s.tls = newOriginTLS(t, dir)
		cfg += fmt.Sprintf("tlsCert: %s\ntlsKey: %s\n", s.tls.certFile, s.tls.keyFile)
	}
	// The built-in STUN server and the seeders' ICE ports get ports of
	// their own, so a stack never waits on another's (or a leftover's).
	for _, key := range []string{"stunAddress", "iceUDPAddress", "iceTCPAddress"} {
		if !strings.Contains(o.Config, key+":") {
			cfg += fmt.Sprintf("%s: \":%d\"\n", key, harness.FreePort(t))
		}
	}
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	hook := fmt.Sprintf("%s attach --config %s --mediamtx-config mediamtx.yml %s", s.bin, s.cfgPath, o.AttachFlags)
	s.mtx = harness.StartMediaMTX(t, harness.MediaMTXOptions{RunOnReady: strings.TrimSpace(hook), Paths: o.Paths, Extra: o.MediaMTX})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin log tail:\n%s", tail(s.pluginLog(), 4000))
			t.Logf("mediamtx log tail:\n%s", tail(s.mtx.Log(), 4000))
		}
		if pid := s.pluginPID(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			waitGone(pid, 5*time.Second)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = os.RemoveAll(dir)
	})
	return s
}

// base is the origin's URL as this process reaches it.
func (s *stack) base() string { return s.scheme() + "://127.0.0.1:" + strconv.Itoa(s.httpPort) }

// browserBase is the origin's URL as a browser in the test namespace reaches it.
func (s *stack) browserBase() string {
	return s.scheme() + "://" + harness.NetnsHost + ":" + strconv.Itoa(s.httpPort)
}

func (s *stack) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// client is an HTTP client that trusts the origin's certificate.
func (s *stack) client() *http.Client {
	if s.tls != nil {
		return s.tls.client
	}
	return http.DefaultClient
}

func (s *stack) pluginLog() string {
	b, _ := os.ReadFile(filepath.Join(s.stateDir, "plugin.log"))
	return string(b)
}

// pluginPID reads the reattach file the plugin writes.
func (s *stack) pluginPID() int {
	b, err := os.ReadFile(filepath.Join(s.stateDir, "plugin.json"))
	if err != nil {
		return 0
	}
	var rc struct {
		Pid int `json:"pid"`
	}
	if json.Unmarshal(b, &rc) != nil {
		return 0
	}
	return rc.Pid
}

// status runs `swarmtx status`.
func (s *stack) status(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, s.bin, "status", "--config", s.cfgPath).CombinedOutput()
	return string(out), err
}

// statusJSON runs `swarmtx status --json` and also returns its output, for
// the log.
func (s *stack) statusJSON(ctx context.Context) (host.StatusDoc, string, error) {
	var doc host.StatusDoc
	out, err := exec.CommandContext(ctx, s.bin, "status", "--json", "--config", s.cfgPath).Output()
	if err != nil {
		return doc, string(out), err
	}
	return doc, string(out), json.Unmarshal(out, &doc)
}

func (s *stack) publish(ctx context.Context, proto, path string, o harness.PublishOptions) *harness.Publisher {
	o.Protocol, o.Path = proto, path
	if proto == "srt" {
		o.Port = s.mtx.SRTPort
	} else {
		o.Port = s.mtx.RTMPPort
	}
	return harness.Publish(ctx, s.t, o)
}

// get fetches a URL and returns status and body.
func get(ctx context.Context, url string) (int, string, error) {
	return getWith(ctx, http.DefaultClient, url)
}

// getWith is get through c.
func getWith(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitMultivariant polls until the stream's multivariant playlist lists want renditions.
func waitMultivariant(ctx context.Context, t testing.TB, url string, want int) multivariant {
	t.Helper()
	var last string
	for {
		code, body, err := get(ctx, url)
		if err == nil && code == 200 {
			mv := parseMultivariant(body)
			if len(mv) >= want {
				return mv
			}
			last = body
		} else if err == nil {
			last = fmt.Sprintf("HTTP %d: %s", code, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("multivariant %s never listed %d renditions; last: %s", url, want, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// metricValue reads one series (name with its labels, as Prometheus writes
// them) from a /metrics body.
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
