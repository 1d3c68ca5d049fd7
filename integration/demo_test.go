package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
)

// demoViewers is the crowd `make demo` starts in this test: as large as
// the demo's own default where this machine allows it.
const demoViewers = 30

// testMakeDemo runs `make demo` as a newcomer would (in this test's network
// namespace, so its fixed ports and its WebRTC stay inside) and checks what
// its first screen claims: the crowd plays through the swarm, the server
// sends far fewer copies than one per viewer, and Ctrl-C (TERM to the
// demo's process group) leaves nothing it started running, the plugin
// included.
func testMakeDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mark := make([]byte, 8)
	rand.Read(mark)
	markEnv := "SWARMTX_DEMO_TEST=" + hex.EncodeToString(mark)

	cmd := exec.Command("make", "-s", "demo")
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		markEnv,
		"DEMO_SECONDS=600", // the test stops it; this only bounds a test gone wrong
		"DEMO_VIEWERS="+strconv.Itoa(demoViewers),
		"XDG_RUNTIME_DIR="+t.TempDir(), // the demo's plugin state, apart from other tests'
	)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		killMarked(markEnv)
	}()

	// The crowd has joined once the demo says so; the swarm then forms.
	crowdLine := regexp.MustCompile(`(\d+) viewers join live/show through the swarm \(swarmtx crowd, log (\S+)\)`)
	var crowdLog string
	waitUntil(ctx, t, "the demo starts its crowd", func() (bool, string) {
		if m := crowdLine.FindStringSubmatch(out.String()); m != nil {
			crowdLog = m[2]
			return true, ""
		}
		return false, "demo output:\n" + tail(out.String(), 3000)
	})
	base := "http://127.0.0.1:8880"
	sleepCtx(ctx, t, 30*time.Second)
	before := serverCopiesOf(ctx, t, base, "source")
	sleepCtx(ctx, t, 30*time.Second)
	after := serverCopiesOf(ctx, t, base, "source")
	made := after.made - before.made
	if made <= 0 {
		t.Fatalf("no media made in 30 s of the demo:\n%s", tail(out.String(), 3000))
	}
	copies := (after.served - before.served) / made
	t.Logf("demo, %d viewers: %.2f server copies of live/show source over 30 s once the swarm formed (HTTP %.2f, seeding %.2f)",
		demoViewers, copies, (after.http-before.http)/made, (after.peer-before.peer)/made)

	// What the demo showed: the origin's status lines with the crowd.
	if !strings.Contains(out.String(), "live/show") || !strings.Contains(out.String(), "playing, P2P") {
		t.Errorf("the demo's status lines show neither the stream nor the crowd:\n%s", tail(out.String(), 3000))
	}

	// Ctrl-C, as a terminal sends it: to the whole foreground group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		stopped = true
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not stop within 30 s of Ctrl-C:\n%s", tail(out.String(), 3000))
	}
	// make may return before the script's cleanup is through: give what
	// the demo started the time a stop takes, no more.
	var left []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if left = marked(markEnv); len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("15 s after Ctrl-C the demo left running:\n  %s", strings.Join(left, "\n  "))
	}
	if !strings.Contains(out.String(), "demo: logs are in") {
		t.Errorf("the demo did not say where its logs are:\n%s", tail(out.String(), 2000))
	}

	// The crowd's last figures, as it wrote them while still playing.
	logText, err := os.ReadFile(crowdLog)
	if err != nil {
		t.Fatal(err)
	}
	final := regexp.MustCompile(`crowd, final \S+: (\d+)/(\d+) playing, P2P (\d+)%`).FindStringSubmatch(string(logText))
	if final == nil {
		t.Fatalf("the crowd wrote no final figures:\n%s", tail(string(logText), 2000))
	}
	t.Logf("crowd: %s", strings.TrimSpace(lastLine(string(logText))))
	playing, _ := strconv.Atoi(final[1])
	if playing != demoViewers {
		t.Errorf("%d of %d viewers were playing at the end", playing, demoViewers)
	}
	if strings.Contains(string(logText), "BAD PARTS") {
		t.Errorf("the crowd played bad parts:\n%s", tail(string(logText), 2000))
	}
	if copies >= float64(demoViewers)/3 {
		t.Errorf("server copies %.2f for %d viewers: not below a third of the viewers", copies, demoViewers)
	}
}

// marked lists the processes whose environment carries env, the demo's
// mark: everything the demo started inherits it (MediaMTX passes its
// environment to hooks, and hooks to the plugin they launch).
func marked(env string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append(append([]byte{0}, environ...), 0), []byte("\x00"+env+"\x00")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, fmt.Sprintf("pid %d: %s", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
	}
	return out
}

// killMarked cleans up after a failed test, so one failure does not hold
// the demo's ports against the next test.
func killMarked(env string) {
	for _, p := range marked(env) {
		var pid int
		if _, err := fmt.Sscanf(p, "pid %d:", &pid); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// syncBuffer is a bytes.Buffer for a command's output read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
