package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/host"
	"github.com/swarmtx/swarmtx/plugin/state"
)

// These tests run the real binary: hooks and plugin as separate processes,
// talking over a unix socket in a fresh state directory.

func buildBinary(t *testing.T, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "swarmtx")
	// The placeholder bridge: these tests are about processes, not media.
	cmd := exec.Command("go", "build", "-tags", "swarmtx_placeholder", "-ldflags", "-X main.version="+version, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type hook struct {
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	code int
}

type env struct {
	t        *testing.T
	bin      string
	cfg      string
	stateDir string
	plugins  map[int]bool
}

func newEnv(t *testing.T, bin string) *env {
	dir := t.TempDir()
	e := &env{t: t, bin: bin, cfg: filepath.Join(dir, "swarmtx.yml"), stateDir: filepath.Join(dir, "st"), plugins: map[int]bool{}}
	if err := os.WriteFile(e.cfg, []byte("stateDir: "+e.stateDir+"\nlisten: 127.0.0.1:0\nlogLevel: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An empty mediamtx.yml: MediaMTX's defaults, whatever this machine has.
	if err := os.WriteFile(filepath.Join(dir, "none.yml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Tests may stop plugins; hooks never do.
		for pid := range e.plugins {
			syscall.Kill(pid, syscall.SIGTERM)
		}
		if ri, err := state.ReadReattach(e.stateDir); err == nil {
			syscall.Kill(ri.Pid, syscall.SIGTERM)
		}
	})
	return e
}

func (e *env) startHook(bin, path string, extra ...string) *hook {
	e.t.Helper()
	if bin == "" {
		bin = e.bin
	}
	args := append([]string{"attach", "--config", e.cfg, "--mediamtx-config", filepath.Join(filepath.Dir(e.cfg), "none.yml")}, extra...)
	if path != "" {
		args = append(args, "--pull-url", "rtmp://127.0.0.1:1935/"+path)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MTX_PATH="+path, "MTX_SOURCE_TYPE=rtmpConn", "MTX_SOURCE_ID=abc", "SWARMTX_PLACEHOLDER_FAIL=live/bad")
	h := &hook{cmd: cmd, out: &syncBuf{}, done: make(chan struct{})}
	cmd.Stdout = h.out
	cmd.Stderr = h.out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		h.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			h.code = ee.ExitCode()
		}
		close(h.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			cmd.Process.Kill()
			<-h.done
		}
	})
	return h
}

func (h *hook) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

func (e *env) waitExit(h *hook, d time.Duration) int {
	e.t.Helper()
	select {
	case <-h.done:
		return h.code
	case <-time.After(d):
		e.t.Fatalf("hook did not exit within %v; output:\n%s", d, h.out)
		return -1
	}
}

func (e *env) interrupt(h *hook) int {
	e.t.Helper()
	h.cmd.Process.Signal(syscall.SIGINT)
	return e.waitExit(h, 10*time.Second)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// status reattaches in-process (like `swarmtx status`) and returns the
// attached paths; ok is false when no plugin answers.
func (e *env) status() (contract.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := host.Reattach(ctx, host.Options{StateDir: e.stateDir})
	if err != nil {
		return contract.Status{}, false
	}
	st, err := c.Status(ctx)
	if err != nil {
		return contract.Status{}, false
	}
	e.plugins[st.Pid] = true
	return st, true
}

func paths(st contract.Status) string {
	var p []string
	for _, s := range st.Streams {
		p = append(p, s.Path)
	}
	return strings.Join(p, " ")
}

func (e *env) waitPaths(want string) contract.Status {
	e.t.Helper()
	var st contract.Status
	var ok bool
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, ok = e.status()
		if ok && paths(st) == want {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("status paths = %q (plugin answering: %v), want %q", paths(st), ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pluginProcs lists pids of running `<bin> plugin --config <cfg> ...` processes.
func (e *env) pluginProcs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if len(args) >= 4 && args[1] == "plugin" && args[3] == e.cfg && state.PidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

var launchedRe = regexp.MustCompile(`(launched|reattached to) plugin pid (\d+)`)

func hookPlugin(t *testing.T, h *hook) (launched bool, pid int) {
	t.Helper()
	m := launchedRe.FindStringSubmatch(h.out.String())
	if m == nil {
		t.Fatalf("hook output has no plugin line:\n%s", h.out)
	}
	pid, _ = strconv.Atoi(m[2])
	return m[1] == "launched", pid
}

func TestProcessLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t, t.TempDir(), "test-1")
	e := newEnv(t, bin)

	// Two hooks at once on a fresh state dir: exactly one plugin launched.
	a := e.startHook("", "live/a")
	b := e.startHook("", "live/b")
	st := e.waitPaths("live/a live/b")
	ri, err := state.ReadReattach(e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if ri.Pid != st.Pid || ri.Version != "test-1" || ri.ProtocolVersion != contract.ProtocolVersion || ri.Network != "unix" {
		t.Fatalf("reattach file %+v, status pid %d", ri, st.Pid)
	}
	if procs := e.pluginProcs(); len(procs) != 1 || procs[0] != ri.Pid {
		t.Fatalf("plugin processes %v, want exactly [%d]", procs, ri.Pid)
	}
	la, pa := hookPlugin(t, a)
	lb, pb := hookPlugin(t, b)
	if la == lb || pa != ri.Pid || pb != ri.Pid {
		t.Fatalf("want one launch and one reattach of pid %d; a: launched=%v pid=%d, b: launched=%v pid=%d", ri.Pid, la, pa, lb, pb)
	}
	for _, h := range []*hook{a, b} {
		if !strings.Contains(h.out.String(), "ATTACHED") {
			t.Fatalf("no ATTACHED event:\n%s", h.out)
		}
	}
	launcher, other := a, b
	otherPath, launcherPath := "live/b", "live/a"
	if lb {
		launcher, other = b, a
		otherPath, launcherPath = "live/a", "live/b"
	}
	_ = otherPath

	// SIGINT the non-launching hook: its path detaches, the plugin stays.
	if code := e.interrupt(other); code != 0 {
		t.Fatalf("interrupted hook exit code %d:\n%s", code, other.out)
	}
	if st := e.waitPaths(launcherPath); st.Pid != ri.Pid {
		t.Fatalf("plugin changed: %d", st.Pid)
	}

	// The launching hook goes away: the plugin keeps serving and logging.
	if code := e.interrupt(launcher); code != 0 {
		t.Fatalf("launcher exit code %d:\n%s", code, launcher.out)
	}
	e.waitPaths("")
	time.Sleep(200 * time.Millisecond) // a write to a dead pipe would kill it now
	if !state.PidAlive(ri.Pid) {
		t.Fatal("plugin died with its launching hook")
	}
	logBefore, _ := os.ReadFile(filepath.Join(e.stateDir, "plugin.log"))
	c := e.startHook("", "live/c")
	e.waitPaths("live/c")
	if launched, pid := hookPlugin(t, c); launched || pid != ri.Pid {
		t.Fatalf("hook c: launched=%v pid=%d, want reattach to %d", launched, pid, ri.Pid)
	}
	logAfter, _ := os.ReadFile(filepath.Join(e.stateDir, "plugin.log"))
	if len(logAfter) <= len(logBefore) || !strings.Contains(string(logAfter[len(logBefore):]), "live/c") {
		t.Fatalf("plugin did not log after its launcher exited:\n%s", logAfter)
	}

	// kill -9 the plugin: the attached hook exits non-zero at once.
	if err := syscall.Kill(ri.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := e.waitExit(c, 10*time.Second); code == 0 {
		t.Fatalf("hook exit code 0 after plugin crash, want non-zero:\n%s", c.out)
	}
	if !strings.Contains(c.out.String(), "connection to swarmtx plugin lost") {
		t.Fatalf("hook output:\n%s", c.out)
	}

	// The next attach relaunches a new plugin.
	d := e.startHook("", "live/d")
	st = e.waitPaths("live/d")
	if st.Pid == ri.Pid {
		t.Fatal("no new plugin after crash")
	}
	if launched, pid := hookPlugin(t, d); !launched || pid != st.Pid {
		t.Fatalf("hook d: launched=%v pid=%d, want launch of %d", launched, pid, st.Pid)
	}
	if procs := e.pluginProcs(); len(procs) != 1 {
		t.Fatalf("plugin processes %v, want 1", procs)
	}

	// A permanent error is printed once; the hook then idles until SIGINT.
	bad := e.startHook("", "live/bad")
	waitFor(t, "permanent error line", 10*time.Second, func() bool { return strings.Contains(bad.out.String(), "ERROR (permanent)") })
	time.Sleep(300 * time.Millisecond)
	if bad.exited() {
		t.Fatalf("hook exited after a permanent error:\n%s", bad.out)
	}
	if n := strings.Count(bad.out.String(), "ERROR"); n != 1 || !strings.Contains(bad.out.String(), "unsupported video codec H265") {
		t.Fatalf("want the error exactly once:\n%s", bad.out)
	}
	if code := e.interrupt(bad); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// A hook of another swarmtx version replaces the plugin; hooks attached
	// to the old one exit non-zero (MediaMTX restarts them).
	bin2 := buildBinary(t, t.TempDir(), "test-2")
	old := st.Pid
	f := e.startHook(bin2, "live/f")
	st = e.waitPaths("live/f")
	if st.Pid == old || st.Version != "test-2" {
		t.Fatalf("plugin not replaced: pid %d version %s", st.Pid, st.Version)
	}
	waitFor(t, "old plugin exit", 10*time.Second, func() bool { return !state.PidAlive(old) })
	if code := e.waitExit(d, 10*time.Second); code == 0 {
		t.Fatalf("hook on replaced plugin exited 0:\n%s", d.out)
	}
	if !strings.Contains(f.out.String(), "replacing plugin pid "+strconv.Itoa(old)) {
		t.Fatalf("hook f output:\n%s", f.out)
	}
	if code := e.interrupt(f); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	oldLog, _ := os.ReadFile(filepath.Join(e.stateDir, "plugin.log"))
	if !strings.Contains(string(oldLog), "shutdown requested") {
		t.Fatalf("old plugin was not asked to shut down:\n%s", oldLog)
	}

	// `swarmtx status` prints the table; with no plugin it exits 1.
	out, err := exec.Command(bin2, "status", "--config", e.cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("pid %d, version test-2", st.Pid)) {
		t.Fatalf("status: %v\n%s", err, out)
	}
	syscall.Kill(st.Pid, syscall.SIGTERM)
	waitFor(t, "plugin exit on SIGTERM", 10*time.Second, func() bool { return !state.PidAlive(st.Pid) })
	if _, err := os.Stat(filepath.Join(e.stateDir, state.ReattachFile)); !os.IsNotExist(err) {
		t.Fatalf("reattach file left after graceful stop: %v", err)
	}
	cmd := exec.Command(bin2, "status", "--config", e.cfg)
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "no swarmtx plugin is running") {
		t.Fatalf("status without plugin: %v\n%s", err, out)
	}
}

func TestMalformedHookCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t, t.TempDir(), "test-1")
	e := newEnv(t, bin)
	cases := []struct {
		name string
		path string
		args []string
		want string
	}{
		{"no path", "", nil, "MTX_PATH"},
		{"bad path", "live/../x", nil, "MTX_PATH"},
		{"bad duration flag", "live/x", []string{"--segment-duration", "soon"}, "-segment-duration"},
		{"duration out of range", "live/x", []string{"--segment-duration", "50s"}, "--segment-duration"},
		{"bad ladder", "live/x", []string{"--ladder", "4k"}, "--ladder"},
		{"bad pull url", "", []string{"--path", "live/x", "--pull-url", "http://x/"}, "--pull-url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h *hook
			if tc.path == "" {
				h = e.startHook("", "", tc.args...)
			} else {
				h = e.startHook("", tc.path, tc.args...)
			}
			waitFor(t, "error line", 10*time.Second, func() bool { return strings.Contains(h.out.String(), "idle until") })
			time.Sleep(100 * time.Millisecond)
			if h.exited() {
				t.Fatalf("malformed hook exited instead of idling:\n%s", h.out)
			}
			if !strings.Contains(h.out.String(), tc.want) {
				t.Fatalf("error does not name %q:\n%s", tc.want, h.out)
			}
			if code := e.interrupt(h); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
		})
	}
	if procs := e.pluginProcs(); len(procs) != 0 {
		t.Fatalf("a malformed hook launched a plugin: %v", procs)
	}
}
