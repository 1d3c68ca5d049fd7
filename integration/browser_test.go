package integration

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// TestBrowserPlaysLLHLS plays swarmtx's multivariant LL-HLS in headless
// Chromium through hls.js and MSE, next to MediaMTX's own LL-HLS of the same
// stream, and reports both live lags and what the plugin and its ladder cost.
func TestBrowserPlaysLLHLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{})
	// Two browsers' 720p decoding, the ladder and the publisher share two
	// cores: the publisher uses x264's superfast preset (still B-frames).
	pub := s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Preset: "superfast"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 4)
	if err := harness.WaitHTTPOK(ctx, s.mtx.HLSURL("127.0.0.1", "live/show")); err != nil {
		t.Fatal(err)
	}

	b := harness.StartBrowser(t, harness.BrowserOptions{Srcs: []string{
		s.browserBase() + "/live/show/index.m3u8",
		s.mtx.HLSURL(harness.NetnsHost, "live/show"),
	}})
	swarmtx, mediamtx := b.Players[0], b.Players[1]
	for _, p := range b.Players {
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nchromium log tail:\n%s", err, tail(b.Log(), 3000))
		}
	}

	plugin := startMeter(s.pluginPID())
	ladderPID := childWithArg(s.pluginPID(), "pipe:0")
	if ladderPID == 0 {
		t.Fatal("no ladder ffmpeg runs under the plugin")
	}
	ladder := startMeter(ladderPID)
	start, _ := swarmtx.Latest()
	startIdx := map[*harness.Player]int{swarmtx: len(swarmtx.Reports()), mediamtx: len(mediamtx.Reports())}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		plugin.sample()
		ladder.sample()
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Second):
		}
	}
	end, _ := swarmtx.Latest()
	speed := pub.Speed()
	if speed <= 0 {
		t.Fatal("the publisher reports no speed")
	}
	t.Logf("publisher speed %.2fx (below 1 the machine is overloaded and timings are suspect)", speed)
	// Playback cannot outrun the publisher: on an overloaded machine it
	// makes less than 20 s of media in 20 s.
	if adv, want := end.CurrentTime-start.CurrentTime, 20*min(speed, 1)-2; adv < want {
		t.Errorf("swarmtx player: currentTime advanced %.1fs in 20s, want %.1fs", adv, want)
	}
	if end.Stalls > start.Stalls {
		t.Errorf("swarmtx player stalled %d times during the 20s", end.Stalls-start.Stalls)
	}
	if len(end.Errors) > 0 {
		t.Errorf("swarmtx player: fatal errors %q", end.Errors)
	}
	if end.Levels != 4 {
		t.Errorf("hls.js sees %d levels, want 4", end.Levels)
	}
	for _, p := range []*harness.Player{swarmtx, mediamtx} {
		window := p.Reports()[startIdx[p]:]
		last, _ := p.Latest()
		t.Logf("%s: median lag %.0f ms (now - playingDate), median hls.latency %.2f s, startup %.0f ms, stalls %d, height %d",
			map[*harness.Player]string{swarmtx: "swarmtx LL-HLS", mediamtx: "MediaMTX LL-HLS"}[p],
			medianOf(window, func(r harness.PlayerReport) float64 { return r.LagMs }),
			medianOf(window, func(r harness.PlayerReport) float64 { return r.Latency }),
			last.StartupMs, last.Stalls, last.Height)
	}
	pc, pm := plugin.result()
	lc, lm := ladder.result()
	t.Logf("720p30 stream: plugin %.0f%% of a core, peak RSS %.0f MB; ladder ffmpeg (720p+480p+360p) %.0f%% of a core, peak RSS %.0f MB",
		pc*100, pm, lc*100, lm)
}

func medianOf(rs []harness.PlayerReport, f func(harness.PlayerReport) float64) float64 {
	if len(rs) == 0 {
		return -1
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}
