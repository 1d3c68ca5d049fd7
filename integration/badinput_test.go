package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// TestUnsupportedCodecIsReportedOnce: an H.265 stream gets one clear error
// naming the codec and the stream; the hook does not loop it, and another
// stream on the same server is served as usual.
func TestUnsupportedCodecIsReportedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source,360p"})
	s.publish(ctx, "srt", "live/hevc", harness.PublishOptions{Codec: "h265", Size: "640x360"})
	s.publish(ctx, "rtmp", "live/ok", harness.PublishOptions{Size: "640x360"})
	if err := s.mtx.WaitLog(ctx, "swarmtx attach live/hevc: "); err != nil {
		t.Fatal(err)
	}
	waitMultivariant(ctx, t, s.base()+"/live/ok/index.m3u8", 2)
	if err := harness.DecodeCheck(ctx, s.base()+"/live/ok/source.m3u8", 4); err != nil {
		t.Error(err)
	}
	// Long enough for MediaMTX to have restarted a hook that exited.
	time.Sleep(8 * time.Second)
	var lines []string
	for _, l := range strings.Split(s.mtx.Log(), "\n") {
		if strings.HasPrefix(l, "swarmtx attach live/hevc:") && strings.Contains(l, "H265") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one error line naming live/hevc and H265, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	t.Logf("the operator sees: %s", lines[0])
	if code, _, _ := get(ctx, s.base()+"/live/hevc/index.m3u8"); code != 404 {
		t.Errorf("live/hevc: HTTP %d, want 404", code)
	}
	if !strings.Contains(s.mtx.Log(), "is publishing to path 'live/hevc'") {
		t.Error("MediaMTX no longer has the H.265 stream")
	}
}

// TestMalformedHookCalls: each mistake an operator can make in the hook line
// or the config file gets one line naming what was wrong; the hook then
// idles until MediaMTX stops it, so MediaMTX does not restart it in a loop.
func TestMalformedHookCalls(t *testing.T) {
	bin := swarmtxBinary(t)
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badConfig, []byte("partDuration: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownKey := filepath.Join(dir, "unknown.yml")
	if err := os.WriteFile(unknownKey, []byte("listen: \":8880\"\nlisten_port: 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no path", nil, nil, "MTX_PATH"},
		{"bad path", []string{"MTX_PATH=live/../etc"}, nil, "MTX_PATH"},
		{"bad flag value", []string{"MTX_PATH=live/x"}, []string{"--part-duration", "banana"}, "part-duration"},
		{"out of range", []string{"MTX_PATH=live/x"}, []string{"--segment-duration", "40s"}, "--segment-duration"},
		{"bad ladder", []string{"MTX_PATH=live/x"}, []string{"--ladder", "source,721p"}, "--ladder"},
		{"bad pull url", []string{"MTX_PATH=live/x"}, []string{"--pull-url", "http://127.0.0.1/x"}, "--pull-url"},
		{"bad config value", []string{"MTX_PATH=live/x"}, []string{"--config", badConfig}, "partDuration"},
		{"unknown config key", []string{"MTX_PATH=live/x"}, []string{"--config", unknownKey}, "listen_port"},
		{"missing mediamtx config", []string{"MTX_PATH=live/x"}, []string{"--mediamtx-config", filepath.Join(dir, "nope.yml")}, "nope.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"attach"}, tc.args...)...)
			cmd.Env = append(os.Environ(), tc.env...)
			if tc.env == nil {
				cmd.Env = append(cmd.Env, "MTX_PATH=")
			}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stderr).ReadString('\n')
			if err != nil {
				t.Fatalf("no error line: %v", err)
			}
			if !strings.Contains(line, tc.want) {
				t.Errorf("error line %q does not name %q", line, tc.want)
			}
			time.Sleep(300 * time.Millisecond)
			if cmd.ProcessState != nil {
				t.Errorf("the hook exited instead of idling; MediaMTX would restart it in a loop")
			}
			_ = cmd.Process.Signal(syscall.SIGINT)
			err = cmd.Wait()
			var exit *exec.ExitError
			if err == nil || !asExit(err, &exit) || exit.ExitCode() != 2 {
				t.Errorf("exit after SIGINT: %v, want status 2", err)
			}
		})
	}
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
