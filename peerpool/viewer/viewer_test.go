package viewer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

const (
	testPart     = 500 * time.Millisecond
	testPerSeg   = 4
	testPartSize = 50_000
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("VIEWER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// origin is a tiny in-process swarmtx: an LL-HLS origin at /live/show/ and
// the stream's signaling hub at /live/show/swarm, fed with synthetic parts
// of random bytes in real time.
type origin struct {
	URL    string
	stream *llhls.Stream
	hub    *signal.Hub

	mu      sync.Mutex
	served  int64              // part bytes served over HTTP
	corrupt func(p *cmaf.Part) // optional: change a part's bytes after it is announced
}

func newOrigin(t *testing.T, prefillSegments int) *origin {
	t.Helper()
	o := &origin{}
	o.stream = llhls.NewStream("live/show", llhls.Settings{
		SegmentTarget: testPerSeg * testPart, PartTarget: testPart, WindowSegments: 4,
	}, []llhls.RenditionInfo{{Name: "source", Bandwidth: 1_000_000}})
	h := &llhls.Handler{
		Lookup: func(p string) *llhls.Stream {
			if p == "live/show" {
				return o.stream
			}
			return nil
		},
		OnServed: func(_, _ string, n int) {
			o.mu.Lock()
			o.served += int64(n)
			o.mu.Unlock()
		},
		MultivariantWait: 100 * time.Millisecond,
	}
	o.hub = signal.NewHub("live/show", signal.Config{PartTarget: testPart, Logger: testLogger(t)}, tracker.New(tracker.Config{}))
	mux := http.NewServeMux()
	mux.Handle("/live/show/swarm", o.hub)
	mux.Handle("/", h)
	srv := httptest.NewServer(mux)
	o.URL = srv.URL + "/live/show/"

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// Parts cover [start, start+dur) of wall-clock time and are published
	// when complete; prefilled segments are back-dated.
	start := time.Now().Add(-time.Duration(prefillSegments*testPerSeg) * testPart)
	const firstMSN = 100
	o.stream.PublishInit(&cmaf.Init{Rendition: "source", ID: firstMSN, Data: []byte("init-segment"), Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720})
	publish := func(i int) {
		msn := uint64(firstMSN + i/testPerSeg)
		idx := i % testPerSeg
		data := make([]byte, testPartSize+i%1000)
		_, _ = rand.Read(data)
		p := &cmaf.Part{
			ID:          cmaf.PartID{Rendition: "source", MSN: msn, Index: idx},
			Duration:    testPart,
			Independent: idx == 0,
			Data:        data,
			SHA256:      sha256.Sum256(data),
		}
		if idx == 0 {
			p.Segment = &cmaf.SegmentStart{ProgramDateTime: start.Add(time.Duration(i) * testPart), InitID: firstMSN}
		}
		a := &wire.PartAnnounce{ID: wire.PartID{Rendition: "source", MSN: msn, Index: idx}, Size: len(data),
			SHA256: p.SHA256, DurationMs: int(testPart / time.Millisecond), Independent: p.Independent}
		a.ChunkSize, a.Chunks = wire.ChunkHashes(data)
		o.hub.Announce(a)
		o.mu.Lock()
		corrupt := o.corrupt
		o.mu.Unlock()
		if corrupt != nil {
			corrupt(p)
		}
		o.stream.PublishPart(p)
		if idx == testPerSeg-1 {
			o.stream.FinishSegment("source", msn, testPerSeg*testPart)
		}
	}
	go func() {
		defer close(done)
		i := 0
		for ; i < prefillSegments*testPerSeg; i++ {
			publish(i)
		}
		for {
			at := start.Add(time.Duration(i+1) * testPart)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(at)):
			}
			publish(i)
			i++
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		o.hub.Close()
		o.stream.Close()
		srv.Close()
	})
	return o
}

func (o *origin) servedBytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.served
}

func TestViewersPlayAndShare(t *testing.T) {
	const (
		viewers = 6
		watch   = 12 * time.Second
	)
	o := newOrigin(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var vs []*Viewer
	defer func() {
		for _, v := range vs {
			v.Close()
		}
	}()
	for i := 0; i < viewers; i++ {
		v, err := Run(ctx, Config{
			API: peer.NewLoopbackAPI(), URL: o.URL, Rendition: "source",
			CanUpload: true, UploadCapBps: 1_000_000,
			Logger: testLogger(t).With("viewer", i),
		})
		if err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		vs = append(vs, v)
		time.Sleep(100 * time.Millisecond) // staggered joins, like an audience
	}
	time.Sleep(watch)

	var total Stats
	var b strings.Builder
	fmt.Fprintf(&b, "%-3s %-8s %8s %10s %10s %10s %5s %5s %7s %7s %6s %5s\n",
		"#", "id", "startup", "http B", "p2p B", "upload B", "parts", "p2p", "lag", "stalls", "late", "peers")
	for i, v := range vs {
		s := v.Stats()
		fmt.Fprintf(&b, "%-3d %-8s %8v %10d %10d %10d %5d %5d %7v %7d %6d %5d\n",
			i, s.ID[:8], s.Startup.Round(time.Millisecond), s.HTTPBytes, s.P2PBytes, s.UploadBytes,
			s.HTTPParts+s.P2PParts, s.P2PParts, s.Lag.Round(time.Millisecond), s.Stalls, s.LateParts, s.Peers)
		total.HTTPBytes += s.HTTPBytes
		total.P2PBytes += s.P2PBytes
		total.UploadBytes += s.UploadBytes
		if err := v.Err(); err != nil {
			t.Errorf("viewer %d stopped: %v", i, err)
		}
		if !s.Playing || s.Startup <= 0 {
			t.Errorf("viewer %d never started playing", i)
			continue
		}
		if s.Stalls != 0 || s.LateParts != 0 {
			t.Errorf("viewer %d: %d stalls (%v), %d late parts", i, s.Stalls, s.StallTime, s.LateParts)
		}
		if min := int64((watch - 2*time.Second) / testPart); s.PartsPlayed < min {
			t.Errorf("viewer %d played %d parts, want ≥ %d", i, s.PartsPlayed, min)
		}
		if s.HTTPHashMismatches != 0 || s.PeerHashMismatches != 0 || s.PeerProtocolErrors != 0 || s.Unverified != 0 || s.FailedParts != 0 {
			t.Errorf("viewer %d integrity: %+v", i, s)
		}
		// Playback starts up to 2×StartupParts parts back (at an
		// independent part), once the startup parts are in.
		if maxLag := s.Startup + 2*(defaultStartup+1)*testPart + time.Second; s.Lag < 0 || s.Lag > maxLag {
			t.Errorf("viewer %d: lag %v, want ≤ %v", i, s.Lag, maxLag)
		}
	}
	t.Logf("\n%sP2P share %.1f%% (p2p %d B, http %d B, uploaded %d B); origin served %d part bytes",
		b.String(), 100*total.P2PShare(), total.P2PBytes, total.HTTPBytes, total.UploadBytes, o.servedBytes())
	if total.P2PBytes == 0 {
		t.Error("no part moved between peers")
	}
}

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after its cleanup.
func checkGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		defaultClient.CloseIdleConnections()
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines left (was %d):\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestCorruptOriginBytesAreNotPlayed(t *testing.T) {
	checkGoroutines(t)
	o := newOrigin(t, 1)
	bad := cmaf.PartID{Rendition: "source", MSN: 101, Index: 2} // published 1.5 s after the start, played ~2 s later
	o.mu.Lock()
	o.corrupt = func(p *cmaf.Part) {
		if p.ID == bad {
			p.Data[100] ^= 0xff // the announcement keeps the true hash
		}
	}
	o.mu.Unlock()
	var vs []*Viewer
	for i := 0; i < 2; i++ {
		v, err := Run(context.Background(), Config{API: peer.NewLoopbackAPI(), URL: o.URL, Rendition: "source", CanUpload: true, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	time.Sleep(5 * time.Second)
	for i, v := range vs {
		s := v.Stats()
		if err := v.Close(); err != nil {
			t.Errorf("viewer %d: %v", i, err)
		}
		t.Logf("viewer %d: http %d p2p %d, http mismatches %d, failed %d, late %d, stalls %d",
			i, s.HTTPParts, s.P2PParts, s.HTTPHashMismatches, s.FailedParts, s.LateParts, s.Stalls)
		if s.HTTPHashMismatches != 1 || s.FailedParts != 1 || s.LateParts != 1 || s.Stalls != 1 {
			t.Errorf("viewer %d: the corrupted part was not refused exactly once: %+v", i, s)
		}
		if s.PeerHashMismatches != 0 || s.PeerProtocolErrors != 0 || s.Unverified != 0 {
			t.Errorf("viewer %d: %+v", i, s)
		}
		if s.PartsPlayed == 0 {
			t.Errorf("viewer %d did not play", i)
		}
	}
}

func TestServerErrorStopsTheViewer(t *testing.T) {
	checkGoroutines(t)
	o := newOrigin(t, 1)
	v, err := Run(context.Background(), Config{API: peer.NewLoopbackAPI(), URL: o.URL, Rendition: "source", CanUpload: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	o.hub.Close()
	select {
	case <-v.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the viewer did not stop when the server ended its session")
	}
	if err := v.Close(); err == nil || !strings.Contains(err.Error(), "the stream ended") {
		t.Errorf("Close = %v", err)
	}
	if err := v.Close(); err == nil {
		t.Error("a second Close lost the error")
	}
}

func TestRunRejects(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no rendition": {URL: "http://127.0.0.1:1/live/show/"},
		"index":        {URL: "http://127.0.0.1:1/live/show/", Rendition: "index"},
		"bad url":      {URL: "ftp://x/", Rendition: "source"},
		"negative cap": {URL: "http://127.0.0.1:1/", Rendition: "source", UploadCapBps: -1},
		"no server":    {URL: "http://127.0.0.1:1/live/show/", Rendition: "source"},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: Run succeeded", name)
		}
	}
}
