package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evanw/esbuild/pkg/api"
)

// P2PMLDir is where deps.sh installs integration/tools/p2pml's npm packages
// (p2p-media-loader and bittorrent-tracker) from its lockfile. lockfile is the
// repository's package-lock.json: an install made from another lockfile is
// reported as stale rather than benchmarked.
func P2PMLDir(lockfile string) (string, error) {
	dir := filepath.Join(CacheDir(), "p2pml")
	installed, err := os.ReadFile(filepath.Join(dir, "node_modules", ".swarmtx-installed-lock"))
	if err != nil {
		return "", fmt.Errorf("p2p-media-loader not installed in %s: run `make deps` (integration/tools/deps.sh) first, with the same SWARMTX_CACHE/HOME", dir)
	}
	want, err := os.ReadFile(lockfile)
	if err != nil {
		return "", err
	}
	if string(want) != string(installed) {
		return "", fmt.Errorf("p2p-media-loader in %s was installed from another %s: run `make deps` again", dir, filepath.Base(lockfile))
	}
	return dir, nil
}

var p2pmlBundles sync.Map // entry path → string

// P2PMLSetupJS bundles the page script entry (integration/tools/p2pml/page.js)
// against the packages in modules (P2PMLDir) and returns it as a
// BrowserOptions.SetupJS: window.p2pmlOptions (announce trackers and hls.js
// settings) first, then the bundle.
func P2PMLSetupJS(entry, modules string, trackers []string, hlsConfig map[string]any) (string, error) {
	bundle, ok := p2pmlBundles.Load(entry)
	if !ok {
		abs, err := filepath.Abs(entry)
		if err != nil {
			return "", err
		}
		res := api.Build(api.BuildOptions{
			AbsWorkingDir: filepath.Dir(abs),
			EntryPoints:   []string{abs},
			// The packages are in the cache, not above the entry.
			NodePaths: []string{filepath.Join(modules, "node_modules")},
			// Core's own bundle carries its browser dependencies (events,
			// the tracker client), which node_modules has only for Node.
			Conditions:    []string{"p2pml:core-as-bundle"},
			Bundle:        true,
			Format:        api.FormatIIFE,
			Platform:      api.PlatformBrowser,
			Target:        api.ES2020,
			MinifySyntax:  true,
			Define:        map[string]string{"global": "globalThis", "process.env.NODE_ENV": `"production"`},
			LegalComments: api.LegalCommentsNone,
			LogLevel:      api.LogLevelSilent,
		})
		if len(res.Errors) > 0 {
			var msgs []string
			for _, e := range res.Errors {
				loc := ""
				if e.Location != nil {
					loc = fmt.Sprintf("%s:%d: ", e.Location.File, e.Location.Line)
				}
				msgs = append(msgs, loc+e.Text)
			}
			return "", fmt.Errorf("esbuild %s: %s", entry, strings.Join(msgs, "; "))
		}
		bundle, _ = p2pmlBundles.LoadOrStore(entry, string(res.OutputFiles[0].Contents))
	}
	opts, err := json.Marshal(map[string]any{"trackers": trackers, "hls": hlsConfig})
	if err != nil {
		return "", err
	}
	return "window.p2pmlOptions = " + string(opts) + ";\n" + bundle.(string), nil
}

// StartTracker runs script (integration/tools/p2pml/tracker.mjs) with node:
// a WebTorrent tracker on host at a free port, with the packages in modules.
// It returns the ws:// announce URL; the tracker stops on cleanup.
func StartTracker(t testing.TB, script, modules, host string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: run `make deps`")
	}
	port := FreePort(t)
	logPath := filepath.Join(t.TempDir(), "tracker.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(node, script, modules, host, strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tracker: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "listening") {
				ok = true
				up <- true
			}
		}
		if !ok {
			up <- false
		}
	}()
	select {
	case ok := <-up:
		if !ok {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("tracker exited before listening:\n%s", b)
		}
	case <-time.After(20 * time.Second):
		b, _ := os.ReadFile(logPath)
		t.Fatalf("tracker not listening after 20 s:\n%s", b)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	t.Logf("tracker: ws://%s (log %s)", addr, logPath)
	return "ws://" + addr
}
