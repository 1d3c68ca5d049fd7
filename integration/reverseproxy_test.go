package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// testBrowsersPlayThroughNginx runs examples/reverse-proxy/nginx.conf as
// README gives it, with only its port, certificate files and upstream port
// put in: nginx terminates HTTPS in front of a plain-HTTP origin, and two
// Chromium players on an https:// page load the player, the playlists and
// the parts through it and join the swarm over WSS through it.
func testBrowsersPlayThroughNginx(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "320x180"})

	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	ca.issue(t, 300, certFile, keyFile)
	port := startNginx(t, dir, map[string]string{
		"listen 443 ssl": "listen %d ssl",
		"/etc/ssl/live.example.com/fullchain.pem": certFile,
		"/etc/ssl/live.example.com/privkey.pem":   keyFile,
		"http://127.0.0.1:8880":                   "http://127.0.0.1:" + strconv.Itoa(s.httpPort),
	})
	proxied := "https://" + net.JoinHostPort(harness.NetnsHost, strconv.Itoa(port))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.clientTLS()}}
	src := proxied + "/live/show/index.m3u8"
	waitUntil(ctx, t, "the stream is served through nginx", func() (bool, string) {
		code, _, err := getWith(ctx, client, src)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, strconv.Itoa(code)
	})

	b := startSwarmBrowserOn(ctx, t, s, "live/show", []string{src, src}, swarmPage{origin: proxied, ca: ca})
	watchSecureSwarm(ctx, t, b, proxied, 15*time.Second, 0, nil)
	// The browsers are on NetnsHost; only nginx reaches the origin from
	// loopback, so these sessions came through it.
	joined := 0
	for _, l := range strings.Split(s.pluginLog(), "\n") {
		if strings.Contains(l, `"msg":"viewer joined"`) && strings.Contains(l, `"remote":"127.0.0.1:`) {
			joined++
		}
	}
	if joined < 2 {
		t.Errorf("%d swarm sessions joined through nginx, want one per player", joined)
	}
}

// startNginx runs nginx in the foreground with examples/reverse-proxy/
// nginx.conf included in its http block, each key of replace (which must be
// in the file) replaced by its value; "%d" in a value is a free port, which
// it returns. nginx stops on cleanup.
func startNginx(t *testing.T, dir string, replace map[string]string) int {
	t.Helper()
	nginx := harness.LookSbin("nginx")
	if nginx == "" {
		t.Fatal("nginx not found: run `make deps`")
	}
	example, err := os.ReadFile("../examples/reverse-proxy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf, port := string(example), harness.FreePort(t)
	for from, to := range replace {
		if !strings.Contains(conf, from) {
			t.Fatalf("examples/reverse-proxy/nginx.conf no longer says %q", from)
		}
		if strings.Contains(to, "%d") {
			to = fmt.Sprintf(to, port)
		}
		conf = strings.ReplaceAll(conf, from, to)
	}
	site := filepath.Join(dir, "swarmtx.conf")
	main := filepath.Join(dir, "nginx.conf")
	// A root master would hand its workers to a user that cannot write the
	// test's directories; this nginx is the test's own, so it stays root.
	top := fmt.Sprintf(`daemon off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events {}
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[2]s;
}
`, dir, site)
	if err := os.WriteFile(site, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, []byte(top), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", main, "-e", filepath.Join(dir, "error.log"))
	out, err := os.Create(filepath.Join(dir, "nginx.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error log tail:\n%s", tail(string(log), 3000))
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", net.JoinHostPort(harness.NetnsHost, strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return port
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "nginx.out"))
			t.Fatalf("nginx exited: %s", log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %d: %v", port, err)
		}
	}
}
