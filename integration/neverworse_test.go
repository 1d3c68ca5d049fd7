package integration

import (
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// testNeverWorseUnderCPULoad: with every core saturated (busy loops beside
// MediaMTX, the plugin, ffmpeg and Chromium), five browser viewers' swarm
// may fail to keep up, but the server never sends more than plain HTTP
// would: once the seed count has had two windows to back off, the source
// rendition's server copies (HTTP plus seeding, from the byte counters)
// stay at or below its viewers, and /metrics' copies gauge says the same.
func testNeverWorseUnderCPULoad(t *testing.T) {
	const viewers = 5
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)

	src := s.browserBase() + "/live/show/index.m3u8"
	srcs := make([]string, viewers)
	for i := range srcs {
		srcs[i] = src
	}
	b := startSwarmBrowser(ctx, t, s, "live/show", srcs)
	for _, p := range b.Players {
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nchromium log tail:\n%s", err, tail(swarmLog(b.Log()), 4000))
		}
	}

	hogs := 2 * runtime.NumCPU()
	for range hogs {
		hog := exec.CommandContext(ctx, "sh", "-c", "while :; do :; done")
		if err := hog.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = hog.Process.Kill(); _ = hog.Wait() })
	}
	t.Logf("%d busy loops on %d cores", hogs, runtime.NumCPU())
	// Two seed windows (8 s each) to back off, and a margin.
	sleepCtx(ctx, t, 20*time.Second)
	start := serverCopies(ctx, t, s.base())
	var startStats []swarmStats
	for _, p := range b.Players {
		r, _ := p.Latest()
		var st swarmStats
		_ = json.Unmarshal(r.Extra, &st)
		startStats = append(startStats, st)
	}
	const window = 40 * time.Second
	sleepCtx(ctx, t, window)
	end := serverCopies(ctx, t, s.base())

	made := end.made - start.made
	if made <= 0 {
		t.Fatal("no media made while loaded")
	}
	httpCopies, peerCopies := (end.http-start.http)/made, (end.peer-start.peer)/made
	var httpBytes, p2pBytes int64
	for i, p := range b.Players {
		r, _ := p.Latest()
		var st swarmStats
		_ = json.Unmarshal(r.Extra, &st)
		httpBytes += st.HTTPBytes - startStats[i].HTTPBytes
		p2pBytes += st.P2PBytes - startStats[i].P2PBytes
	}
	_, body, err := get(ctx, s.base()+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	gauge, okG := metricValue(body, `swarmtx_rendition_copies{path="live/show",rendition="source"}`)
	gaugeViewers, okV := metricValue(body, `swarmtx_rendition_viewers{path="live/show",rendition="source"}`)
	t.Logf("CPU saturated, %d viewers over %v: %.2f server copies (HTTP %.2f, seeding %.2f); viewers' P2P share %.0f%%; /metrics copies gauge %.2f for %.0f viewers",
		viewers, window, httpCopies+peerCopies, httpCopies, peerCopies, 100*float64(p2pBytes)/float64(max(httpBytes+p2pBytes, 1)), gauge, gaugeViewers)
	if c := httpCopies + peerCopies; c > viewers {
		t.Errorf("the server sent %.2f copies for %d viewers: more than plain HTTP", c, viewers)
	}
	if !okG || !okV {
		t.Errorf("/metrics has no copies or viewers gauge for the source rendition")
	} else if gauge > gaugeViewers+0.25 {
		t.Errorf("/metrics: %.2f copies for %.0f viewers", gauge, gaugeViewers)
	}
}
