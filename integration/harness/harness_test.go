package harness

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// The whole binary runs in its own network namespace so the browser test can
// use NetnsHost like every later browser test will.
func TestMain(m *testing.M) { RunInNetns(m) }

func TestCachedTools(t *testing.T) {
	// Fail, not skip: `make test` runs `make deps` first.
	for name, f := range map[string]func() (string, error){"mediamtx": MediaMTXPath, "hls.js": HLSJSPath} {
		p, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %s", name, p)
	}
}

func TestNetns(t *testing.T) {
	if !InNetns() {
		t.Fatal("TestMain did not re-exec inside a network namespace")
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, a := range addrs {
		found = append(found, a.String())
	}
	got := strings.Join(found, " ")
	if !strings.Contains(got, NetnsHost+"/24") || !strings.Contains(got, "127.0.0.1/8") {
		t.Fatalf("namespace addresses %q, want %s/24 and loopback", got, NetnsHost)
	}
	// Only lo and the veth pair: the host's interfaces must not be visible.
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Name != "lo" && i.Name != "v0" && i.Name != "v1" {
			t.Errorf("unexpected interface %q in the test namespace", i.Name)
		}
	}
}

func TestFreePortUnique(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
	}
}

func TestYAML(t *testing.T) {
	var b strings.Builder
	writeYAML(&b, map[string]any{
		"rtmp": true, "rtmpAddress": ":1935", "list": []string{"tcp"},
		"paths": map[string]any{"~^live/": map[string]any{"runOnReady": `a "b" $MTX_PATH`}, "all_others": map[string]any{}},
	}, 0)
	want := `"list": ["tcp"]
"paths":
  "all_others": {}
  "~^live/":
    "runOnReady": "a \"b\" $MTX_PATH"
"rtmp": true
"rtmpAddress": ":1935"
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestRTMPToHLSInBrowser proves the harness end to end on plain MediaMTX: an
// OBS-like RTMP publish, ffmpeg decoding MediaMTX's HLS, and two Chromium tabs
// playing MediaMTX's own LL-HLS through hls.js. The measured lag is the
// baseline swarmtx's LL-HLS is compared with.
func TestRTMPToHLSInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	m := StartMediaMTX(t, MediaMTXOptions{})
	pub := Publish(ctx, t, PublishOptions{Port: m.RTMPPort, Path: "live/test"})
	if err := m.WaitLog(ctx, "is publishing to path 'live/test'"); err != nil {
		t.Fatal(err)
	}
	hlsURL := m.HLSURL("127.0.0.1", "live/test")
	if err := WaitHTTPOK(ctx, hlsURL); err != nil {
		t.Fatal(err)
	}
	if err := DecodeCheck(ctx, hlsURL, 5); err != nil {
		t.Fatal(err)
	}

	// Two tabs in one Chromium: the shape later multi-viewer tests use.
	src := m.HLSURL(NetnsHost, "live/test")
	b := StartBrowser(t, BrowserOptions{Srcs: []string{src, src}})
	for _, p := range b.Players {
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nchromium log tail:\n%s", err, tail(b.Log(), 3000))
		}
	}
	start := make([]PlayerReport, len(b.Players))
	startIdx := make([]int, len(b.Players)) // reports before the window are startup, not steady state
	for i, p := range b.Players {
		start[i], _ = p.Latest()
		startIdx[i] = len(p.Reports())
	}
	select {
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	// Below 1x the machine is overloaded and every timing figure is suspect.
	t.Logf("publisher speed %.2fx", pub.Speed())
	for i, p := range b.Players {
		end, _ := p.Latest()
		t.Logf("player %s: %s", p.ID, end)
		if adv := end.CurrentTime - start[i].CurrentTime; adv < 10 {
			t.Errorf("player %s: currentTime advanced %.2fs in 15s, want >= 10s", p.ID, adv)
		}
		if len(end.Errors) > 0 {
			t.Errorf("player %s: fatal errors: %q", p.ID, end.Errors)
		}
		if end.Height != 720 {
			t.Errorf("player %s: video height %d, want 720", p.ID, end.Height)
		}
		window := p.Reports()[startIdx[i]:]
		lag := median(window, func(r PlayerReport) float64 { return r.LagMs })
		lat := median(window, func(r PlayerReport) float64 { return r.Latency })
		t.Logf("player %s: MediaMTX LL-HLS via hls.js: median lag %.0f ms (Date.now()-playingDate), median hls.latency %.2f s, startup %.0f ms, stalls %d",
			p.ID, lag, lat, end.StartupMs, end.Stalls)
		if lag < 0 {
			t.Errorf("player %s: no playingDate-based lag measured (playlist without PROGRAM-DATE-TIME?)", p.ID)
		}
	}
}

// TestSRTAndHook publishes over SRT (H.264 and H.265), checks MediaMTX
// re-serves it on RTMP (where the plugin pulls from) and that a runOnReady
// hook runs with its output in Log().
func TestSRTAndHook(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	m := StartMediaMTX(t, MediaMTXOptions{
		RunOnReady: `sh -c 'echo HOOK-READY path=$MTX_PATH type=$MTX_SOURCE_TYPE rtsp=$RTSP_PORT; exec sleep 3600'`,
	})
	Publish(ctx, t, PublishOptions{Protocol: "srt", Port: m.SRTPort, Path: "live/srt"})
	if err := m.WaitLog(ctx, "HOOK-READY path=live/srt type=srtConn"); err != nil {
		t.Fatal(err)
	}
	if err := DecodeCheck(ctx, m.RTMPURL("live/srt"), 4); err != nil {
		t.Fatal(err)
	}

	p := Publish(ctx, t, PublishOptions{Protocol: "srt", Port: m.SRTPort, Path: "live/hevc", Codec: "h265", Size: "640x360"})
	if err := m.WaitLog(ctx, "HOOK-READY path=live/hevc"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Log(), "H265") {
		t.Errorf("MediaMTX log does not name H265 for live/hevc:\n%s", tail(m.Log(), 3000))
	}
	p.Stop()
	if err := p.Wait(); err != nil && !strings.Contains(err.Error(), "exit status 255") {
		// ffmpeg exits 255 when interrupted; anything else is a publish failure.
		t.Errorf("h265 publish: %v", err)
	}
	if _, err := os.Stat(m.ConfigPath); err != nil {
		t.Fatal(err)
	}
}

func median(rs []PlayerReport, f func(PlayerReport) float64) float64 {
	var v []float64
	for _, r := range rs {
		if x := f(r); x >= 0 {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return -1
	}
	// Insertion sort: a few dozen values.
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v[len(v)/2]
}
