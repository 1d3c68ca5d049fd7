package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// TestBuiltInPlayerPlays: the player page at /{path}/ and the player bundle
// it loads (hls.js as swarmtx configures it, served from the binary) play
// the stream in Chromium.
func TestBuiltInPlayerPlays(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source,360p"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 2)

	code, page, err := get(ctx, s.base()+"/live/show/")
	if err != nil || code != 200 || !strings.Contains(page, "/_swarmtx/player.js?v=") {
		t.Fatalf("player page: %d %v\n%s", code, err, page)
	}
	script := page[strings.Index(page, "/_swarmtx/player.js?v="):]
	script = script[:strings.Index(script, `"`)]
	if code, js, err := get(ctx, s.base()+script); err != nil || code != 200 || len(js) < 100_000 {
		t.Fatalf("player bundle %s: %d %v, %d bytes", script, code, err, len(js))
	}

	// The test page plays through the bundle's hls.js with swarmtx's config.
	setup := fmt.Sprintf(`document.write('<script src="%s%s"><\/script>');
document.write('<script>window.Hls = swarmtx.Hls; window.swarmtxSetup = (c) => Object.assign(c, swarmtx.hlsConfig());<\/script>');`,
		s.browserBase(), script)
	b := harness.StartBrowser(t, harness.BrowserOptions{
		Srcs:    []string{s.browserBase() + "/live/show/index.m3u8"},
		SetupJS: setup,
	})
	p := b.Players[0]
	if err := p.WaitPlaying(ctx); err != nil {
		t.Fatalf("%v\nchromium log tail:\n%s", err, tail(b.Log(), 3000))
	}
	start, _ := p.Latest()
	time.Sleep(15 * time.Second)
	end, _ := p.Latest()
	if adv := end.CurrentTime - start.CurrentTime; adv < 13 {
		t.Errorf("currentTime advanced %.1fs in 15s", adv)
	}
	if len(end.Errors) > 0 || end.Stalls > start.Stalls {
		t.Errorf("errors %q, stalls %d", end.Errors, end.Stalls-start.Stalls)
	}
	t.Logf("built-in player config: lag %.0f ms, hls.latency %.2f s, startup %.0f ms", end.LagMs, end.Latency, end.StartupMs)
}
