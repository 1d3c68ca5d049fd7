package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// chromium is one headless Chromium process with its own profile and log.
// It is stopped on the test's cleanup.
type chromium struct {
	LogPath string
	profile string
	cmd     *exec.Cmd
	done    chan struct{}
}

// startChromium launches Chromium with the flags every test browser needs,
// then flags; nice > 0 runs it at that niceness.
func startChromium(t testing.TB, nice int, flags ...string) *chromium {
	t.Helper()
	return startChromiumIn(t, "", nice, flags...)
}

// startChromiumIn is startChromium in the network namespace at netns (a
// /proc/<pid>/ns/net path such as Home.Netns()); "" is the test's own.
func startChromiumIn(t testing.TB, netns string, nice int, flags ...string) *chromium {
	t.Helper()
	chrome := lookChromium()
	if chrome == "" {
		t.Fatal("chromium not found: run `make deps`")
	}
	dir := t.TempDir()
	c := &chromium{LogPath: filepath.Join(dir, "chromium.log"), profile: filepath.Join(dir, "profile"), done: make(chan struct{})}
	logf, err := os.Create(c.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	args := append([]string{
		"--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--no-default-browser-check",
		"--user-data-dir=" + c.profile,
		"--autoplay-policy=no-user-gesture-required",
		"--disable-features=WebRtcHideLocalIpsWithMdns",
		// Every tab is a viewer that must keep playing, not a background tab.
		"--disable-background-timer-throttling",
		"--disable-renderer-backgrounding",
		"--disable-backgrounding-occluded-windows",
		"--mute-audio",
	}, flags...)
	cmd := exec.Command(chrome, args...)
	if nice > 0 {
		// nice execs Chromium in place: the pid and process group stay.
		cmd = exec.Command("nice", append([]string{"-n", strconv.Itoa(nice), chrome}, args...)...)
	}
	if netns != "" {
		// nsenter execs what follows in place, as nice does.
		nsenter, err := exec.LookPath("nsenter")
		if err != nil {
			t.Fatal("nsenter not found (util-linux): run `make deps`")
		}
		cmd = exec.Command(nsenter, append([]string{"--net=" + netns, "--"}, cmd.Args...)...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Chromium forks a zygote, renderers and utilities: kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	c.cmd = cmd
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(c.stop)
	return c
}

func (c *chromium) stop() {
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	// Children may outlive the main process; the group kill reaches them.
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// Log returns Chromium's output (mostly harmless D-Bus noise).
func (c *chromium) Log() string {
	s, _ := os.ReadFile(c.LogPath)
	return string(s)
}
