package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
)

// testRelayCarriesTheSwarm: `swarmtx relay --url` joins a stream's swarm as
// an operator would run it on another box. Four viewers that do not upload
// (opted out) can only get parts from peers through the relay; they play,
// most of their bytes come from it. The relay reaches the origin through a
// proxy; when every connection through it is cut (an outage between the
// relay's box and the origin), the relay rejoins on its own and carries the
// viewers again. It stops cleanly on SIGINT.
func testRelayCarriesTheSwarm(t *testing.T) {
	part := defaultPart
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startSwarmStream(ctx, t)

	logPath := filepath.Join(t.TempDir(), "relay.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	proxy := harness.StartCutProxy(t, strings.TrimPrefix(s.base(), "http://"))
	relay := exec.Command(s.bin, "relay", "--url", "http://"+proxy.Addr()+"/live/show/", "--interfaces", "lo")
	relay.Stdout, relay.Stderr = logFile, logFile
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- relay.Wait() }()
	defer relay.Process.Kill()
	relayLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	t.Logf("relay log %s", logPath)
	sleepCtx(ctx, t, 3*time.Second)

	var vs []*viewer.Viewer
	for range 4 {
		vs = append(vs, joinSwarm(ctx, t, s, func(c *viewer.Config) { c.CanUpload, c.UploadCapBps = false, 0 }))
	}
	sleepCtx(ctx, t, 25*time.Second)

	var p2p, http int64
	for i, v := range vs {
		st := v.Stats()
		p2p += st.P2PBytes
		http += st.HTTPBytes
		t.Logf("viewer %d (no upload): %d parts, P2P %.0f%%, stalls %d (longest %v), peers %d",
			i, st.PartsPlayed, 100*st.P2PShare(), st.Stalls, st.LongestStall, st.Peers)
		if !st.Playing || st.LongestStall > part {
			t.Errorf("viewer %d: playing %v, longest stall %v", i, st.Playing, st.LongestStall)
		}
		if st.UploadBytes != 0 {
			t.Errorf("viewer %d opted out of uploading but sent %d bytes", i, st.UploadBytes)
		}
	}
	// The relay logs its figures every 10 s.
	m := regexp.MustCompile(`uploaded_bytes=(\d+)`).FindAllStringSubmatch(relayLog(), -1)
	if len(m) == 0 {
		t.Fatalf("the relay logged no figures:\n%s", tail(relayLog(), 3000))
	}
	uploaded, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	share := float64(p2p) / float64(max(p2p+http, 1))
	t.Logf("relay uploaded %d bytes (last report); viewers got %d bytes from peers, %.0f%% of their media", uploaded, p2p, 100*share)
	if share < 0.5 {
		t.Errorf("viewers got %.0f%% of their media from peers; with the relay it should be most", 100*share)
	}
	if uploaded < p2p/2 {
		t.Errorf("the relay reports %d bytes uploaded, less than half of the %d the viewers got from peers (only it and the seeder can send)", uploaded, p2p)
	}

	// The outage: the relay loses its signaling and playlists at once.
	joins := func() int { return strings.Count(relayLog(), "relay joined the swarm") }
	t.Logf("cut %d connections between the relay and the origin", proxy.Cut())
	deadline := time.Now().Add(20 * time.Second)
	for joins() < 2 && time.Now().Before(deadline) {
		sleepCtx(ctx, t, 200*time.Millisecond)
	}
	if joins() < 2 {
		t.Fatalf("the relay did not rejoin within 20 s of the outage:\n%s", tail(relayLog(), 3000))
	}
	if !strings.Contains(relayLog(), "relay is out of the swarm; rejoining") {
		t.Error("the relay rejoined without logging why it left")
	}
	http0, p2p0 := mediaBytes(vs)
	sleepCtx(ctx, t, 15*time.Second)
	http1, p2p1 := mediaBytes(vs)
	for i, v := range vs {
		if st := v.Stats(); !st.Playing || v.Err() != nil {
			t.Errorf("viewer %d after the relay's outage: playing %v, ended %v", i, st.Playing, v.Err())
		}
	}
	p2p, http = p2p1-p2p0, http1-http0
	share = float64(p2p) / float64(max(p2p+http, 1))
	t.Logf("15 s after the relay rejoined: viewers got %.0f%% of their media from peers", 100*share)
	if share < 0.5 {
		t.Errorf("after the rejoin viewers got %.0f%% of their media from peers; the relay should carry most again", 100*share)
	}

	if err := relay.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("relay exited with %v after SIGINT\n%s", err, tail(relayLog(), 2000))
		}
	case <-time.After(10 * time.Second):
		t.Errorf("relay still running 10 s after SIGINT")
	}
}
