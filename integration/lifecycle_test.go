package integration

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// waitUntil polls cond every 250 ms until it holds or ctx ends.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never happened; last state: %s", what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// TestPublisherStopDetachesStream: when OBS stops, MediaMTX stops the hook,
// the stream waits out its reconnect window and is then gone from swarmtx.
func TestPublisherStopDetachesStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--reconnect-window 4s --ladder source"})
	pub := s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{})
	mvURL := s.base() + "/live/show/index.m3u8"
	waitMultivariant(ctx, t, mvURL, 1)
	if out, err := s.status(ctx); err != nil || !strings.Contains(out, "live/show") || !strings.Contains(out, "attached") {
		t.Fatalf("swarmtx status while publishing: %v\n%s", err, out)
	}

	pub.Stop()
	if err := s.mtx.WaitLog(ctx, "runOnReady command stopped"); err != nil {
		t.Fatal(err)
	}
	// Two ends race when the publisher leaves: MediaMTX stops the hook
	// ("detached") and the plugin sees its pull end ("stream ended by the
	// plugin"). Either way the hook reports the end and exits.
	waitUntil(ctx, t, "hook reports the detach", func() (bool, string) {
		log := s.mtx.Log()
		return strings.Contains(log, "swarmtx attach live/show: detached") ||
			strings.Contains(log, "swarmtx attach live/show: stream ended by the plugin"), ""
	})
	waitUntil(ctx, t, "status shows the stream waiting for its publisher", func() (bool, string) {
		out, _ := s.status(ctx)
		return strings.Contains(out, "waiting-for-reconnect"), out
	})
	stopped := time.Now()
	waitUntil(ctx, t, "stream removed after the reconnect window", func() (bool, string) {
		code, _, _ := get(ctx, mvURL)
		out, _ := s.status(ctx)
		return code == 404 && !strings.Contains(out, "live/show"), fmt.Sprintf("HTTP %d, status:\n%s", code, out)
	})
	if gone := time.Since(stopped); gone < 3*time.Second {
		t.Errorf("stream removed %v after its publisher stopped, before the 4s reconnect window", gone)
	}
	if pid := s.pluginPID(); pid == 0 || syscall.Kill(pid, 0) != nil {
		t.Error("the plugin did not outlive the stream")
	}
}

// TestPluginCrashRecovers: a plugin killed outright is relaunched by the
// restarted hook of an existing stream and by the hook of a new one.
func TestPluginCrashRecovers(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/a", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, s.base()+"/live/a/index.m3u8", 1)
	first := s.pluginPID()
	if first == 0 {
		t.Fatal("no plugin pid")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(first, 5*time.Second)

	s.publish(ctx, "rtmp", "live/b", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, s.base()+"/live/b/index.m3u8", 1)
	second := s.pluginPID()
	if second == 0 || second == first {
		t.Fatalf("plugin pid after the crash: %d (was %d)", second, first)
	}
	// live/a's hook exited when the plugin died; MediaMTX restarted it.
	waitMultivariant(ctx, t, s.base()+"/live/a/index.m3u8", 1)
	if n := strings.Count(s.mtx.Log(), "launched plugin pid"); n < 2 {
		t.Errorf("hooks launched the plugin %d times, want at least 2 (initial and after the crash)", n)
	}
}

// testPublisherReconnectContinuesPlayback: OBS drops and comes back within
// the window; the playlists go on with a discontinuity and a playing hls.js
// keeps playing without a reload.
func testPublisherReconnectContinuesPlayback(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--reconnect-window 30s"})
	pub := s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 4)
	b := harness.StartBrowser(t, harness.BrowserOptions{Srcs: []string{s.browserBase() + "/live/show/index.m3u8"}})
	p := b.Players[0]
	if err := p.WaitPlaying(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	_, body, _ := get(ctx, s.base()+"/live/show/source.m3u8")
	before := parseMedia(body)
	lastBefore := before.Segments[len(before.Segments)-1].MSN

	pub.Stop()
	if err := s.mtx.WaitLog(ctx, "runOnReady command stopped"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{})
	back, _ := p.Latest()
	reconnected := time.Now()

	for _, r := range []string{"source", "360p"} {
		waitUntil(ctx, t, r+" playlist continues after the reconnect", func() (bool, string) {
			_, body, _ := get(ctx, s.base()+"/live/show/"+r+".m3u8")
			pl := parseMedia(body)
			for i, seg := range pl.Segments {
				if seg.Discontinuity && seg.Complete && i+1 < len(pl.Segments) {
					return true, body
				}
			}
			return false, body
		})
	}
	_, body, _ = get(ctx, s.base()+"/live/show/source.m3u8")
	after := parseMedia(body)
	for _, seg := range after.Segments {
		if seg.Discontinuity && seg.MSN <= lastBefore {
			t.Errorf("the discontinuity is at segment %d, but segment %d was already served before the drop", seg.MSN, lastBefore)
		}
	}
	if after.MediaSequence < before.MediaSequence {
		t.Errorf("media sequence went back from %d to %d", before.MediaSequence, after.MediaSequence)
	}

	// hls.js keeps going on the same page.
	r, err := p.WaitFor(ctx, func(r harness.PlayerReport) bool {
		return r.CurrentTime > back.CurrentTime+8 && time.Since(reconnected) > 10*time.Second
	})
	if err != nil {
		last, _ := p.Latest()
		t.Fatalf("playback did not continue after the reconnect: %v; last report %s", err, last)
	}
	if len(r.Errors) > 0 {
		t.Errorf("player errors across the reconnect: %q", r.Errors)
	}
	t.Logf("across the reconnect: %d stalls, %.1f s stalled in all, lag now %.0f ms", r.Stalls, r.StallMs/1000, r.LagMs)
}
