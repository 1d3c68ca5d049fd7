package integration

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// TestExampleConfigFromRepoRoot runs MediaMTX with examples/mediamtx as the
// README tells operators to: from the repository root, on MediaMTX's default
// ports (the test's own network namespace keeps them private).
func TestExampleConfigFromRepoRoot(t *testing.T) {
	if !harness.InNetns() {
		t.Fatal("this test binds MediaMTX's default ports and must run in the test namespace")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "swarmtx"), "../plugin/cmd/swarmtx").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	runtimeDir, err := os.MkdirTemp("", "stx")
	if err != nil {
		t.Fatal(err)
	}
	mtxBin, err := harness.MediaMTXPath()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "mediamtx.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mtxBin, "examples/mediamtx/mediamtx.yml")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtimeDir) // the plugin's state dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		if b, err := os.ReadFile(filepath.Join(runtimeDir, "swarmtx", "plugin.json")); err == nil {
			var rc struct{ Pid int }
			if json.Unmarshal(b, &rc) == nil && rc.Pid > 0 {
				_ = syscall.Kill(rc.Pid, syscall.SIGTERM)
				waitGone(rc.Pid, 5*time.Second)
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("mediamtx log:\n%s", tail(string(b), 4000))
		}
		_ = os.RemoveAll(runtimeDir)
	})
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:1935"); err == nil {
			c.Close()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("MediaMTX did not open port 1935")
		case <-time.After(100 * time.Millisecond):
		}
	}
	harness.Publish(ctx, t, harness.PublishOptions{Port: 1935, Path: "live/show"})
	harness.Publish(ctx, t, harness.PublishOptions{Protocol: "srt", Port: 8890, Path: "events/keynote", Size: "854x480"})

	mv := waitMultivariant(ctx, t, "http://127.0.0.1:8880/live/show/index.m3u8", 4)
	t.Logf("live/show: %d renditions", len(mv))
	ev := waitMultivariant(ctx, t, "http://127.0.0.1:8880/events/keynote/index.m3u8", 2)
	if len(ev) != 2 {
		t.Errorf("events/keynote: %d renditions, want source and 480p (the per-path --ladder)", len(ev))
	}
	_, body, err := get(ctx, "http://127.0.0.1:8880/events/keynote/source.m3u8")
	if err != nil || !strings.Contains(body, "PART-TARGET=0.30000") {
		t.Errorf("events/keynote does not use the per-path 300ms parts: %v\n%s", err, body)
	}
}
