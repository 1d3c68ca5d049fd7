package llhls

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
)

// feed publishes n parts of 0.5 s (4 per segment) into rendition rend.
func feed(st *Stream, rend string, firstMSN uint64, from, n int, disc bool) {
	for i := from; i < from+n; i++ {
		msn := firstMSN + uint64(i/4)
		idx := i % 4
		if idx == 0 {
			st.PublishInit(&cmaf.Init{Rendition: rend, ID: firstMSN, Data: []byte("init"), Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720})
		}
		p := &cmaf.Part{
			ID:          cmaf.PartID{Rendition: rend, MSN: msn, Index: idx},
			Duration:    500 * time.Millisecond,
			Independent: idx == 0,
			Data:        []byte(fmt.Sprintf("part-%d-%d;", msn, idx)),
		}
		if idx == 0 {
			p.Segment = &cmaf.SegmentStart{ProgramDateTime: time.Unix(1700000000+int64(i/2), 0), InitID: firstMSN, Discontinuity: disc && i == from}
		}
		st.PublishPart(p)
		if idx == 3 {
			st.FinishSegment(rend, msn, 2*time.Second)
		}
	}
}

func newTestServer(t *testing.T) (*Stream, *httptest.Server) {
	t.Helper()
	st := NewStream("live/show", Settings{SegmentTarget: 2 * time.Second, PartTarget: 500 * time.Millisecond, WindowSegments: 4},
		[]RenditionInfo{{Name: "source", Bandwidth: 3_000_000}, {Name: "360p", Bandwidth: 800_000}})
	h := &Handler{Lookup: func(p string) *Stream {
		if p == "live/show" {
			return st
		}
		return nil
	}, MultivariantWait: 200 * time.Millisecond}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(st.Close)
	return st, srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMediaPlaylistWindowPartsAndHint(t *testing.T) {
	st, srv := newTestServer(t)
	feed(st, "source", 100, 0, 26, false) // 6 complete segments + 2 parts of the 7th
	resp, body := get(t, srv.URL+"/live/show/source.m3u8")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"#EXT-X-TARGETDURATION:2\n",
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.50000",
		"#EXT-X-PART-INF:PART-TARGET=0.50000\n",
		"#EXT-X-MEDIA-SEQUENCE:102\n", // window of 4 complete segments
		"#EXT-X-MAP:URI=\"source/init100.mp4\"\n",
		"#EXTINF:2.00000,\nsource/seg105.m4s\n",
		"#EXT-X-PART:DURATION=0.50000,URI=\"source/part106.1.m4s\"\n",
		"#EXT-X-PART:DURATION=0.50000,URI=\"source/part106.0.m4s\",INDEPENDENT=YES\n",
		"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"source/part106.2.m4s\"\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("playlist lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "part102.0") {
		t.Errorf("parts of old segments are still listed:\n%s", body)
	}
	if strings.Contains(body, "seg101") {
		t.Errorf("segment outside the window is listed")
	}
	if r, _ := get(t, srv.URL+"/live/show/source/seg101.m4s"); r.StatusCode != 404 {
		t.Errorf("segment outside the window served with %d", r.StatusCode)
	}
	r, seg := get(t, srv.URL+"/live/show/source/seg104.m4s")
	if r.StatusCode != 200 || seg != "part-104-0;part-104-1;part-104-2;part-104-3;" || r.Header.Get("Cache-Control") != cacheImmutable {
		t.Errorf("segment = %d %q %q", r.StatusCode, seg, r.Header.Get("Cache-Control"))
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header on media")
	}
}

func TestBlockingReloadWaitsForPart(t *testing.T) {
	st, srv := newTestServer(t)
	feed(st, "source", 100, 0, 5, false)
	go func() {
		time.Sleep(300 * time.Millisecond)
		feed(st, "source", 100, 5, 1, false)
	}()
	start := time.Now()
	resp, body := get(t, srv.URL+"/live/show/source.m3u8?_HLS_msn=101&_HLS_part=1")
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("blocking reload returned after %v, before the part existed", waited)
	}
	if resp.StatusCode != 200 || !strings.Contains(body, "part101.1.m4s") || resp.Header.Get("Cache-Control") != cacheBlocking {
		t.Fatalf("blocking reload: %d %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	if r, _ := get(t, srv.URL+"/live/show/source.m3u8?_HLS_msn=110"); r.StatusCode != 400 {
		t.Errorf("far-future _HLS_msn got %d, want 400", r.StatusCode)
	}
	if r, _ := get(t, srv.URL+"/live/show/source.m3u8?_HLS_part=1"); r.StatusCode != 400 {
		t.Errorf("_HLS_part without _HLS_msn got %d, want 400", r.StatusCode)
	}
}

func TestPreloadHintPartIsHeldUntilPublished(t *testing.T) {
	st, srv := newTestServer(t)
	feed(st, "source", 100, 0, 2, false)
	go func() {
		time.Sleep(200 * time.Millisecond)
		feed(st, "source", 100, 2, 1, false)
	}()
	resp, body := get(t, srv.URL+"/live/show/source/part100.2.m4s")
	if resp.StatusCode != 200 || body != "part-100-2;" {
		t.Fatalf("hinted part: %d %q", resp.StatusCode, body)
	}
	start := time.Now()
	if r, _ := get(t, srv.URL+"/live/show/source/part105.0.m4s"); r.StatusCode != 404 || time.Since(start) > time.Second {
		t.Errorf("part far ahead of the hint: %d after %v, want a quick 404", r.StatusCode, time.Since(start))
	}
}

func TestMultivariantListsReadyRenditions(t *testing.T) {
	st, srv := newTestServer(t)
	if r, _ := get(t, srv.URL+"/live/show/index.m3u8"); r.StatusCode != 503 {
		t.Errorf("multivariant with no media: %d, want 503", r.StatusCode)
	}
	feed(st, "source", 100, 0, 4, false)
	feed(st, "360p", 100, 0, 4, false)
	_, body := get(t, srv.URL+"/live/show/index.m3u8")
	for _, want := range []string{"BANDWIDTH=", "CODECS=\"avc1.64001f,mp4a.40.2\"", "RESOLUTION=1280x720", "\nsource.m3u8\n", "\n360p.m3u8\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("multivariant lacks %q:\n%s", want, body)
		}
	}
}

func TestDiscontinuityAndGap(t *testing.T) {
	st, srv := newTestServer(t)
	feed(st, "source", 100, 0, 8, false)
	feed(st, "source", 100, 12, 4, true) // segment 102 is missing, 103 follows a break
	_, body := get(t, srv.URL+"/live/show/source.m3u8")
	if !strings.Contains(body, "#EXT-X-GAP\n#EXTINF:2.00000,\nsource/seg102.m4s\n") {
		t.Errorf("missing segment not listed as a gap:\n%s", body)
	}
	if !strings.Contains(body, "#EXT-X-DISCONTINUITY\n") {
		t.Errorf("no discontinuity:\n%s", body)
	}
	feed(st, "source", 100, 16, 16, false) // the discontinuity slides out
	_, body = get(t, srv.URL+"/live/show/source.m3u8")
	if !strings.Contains(body, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n") {
		t.Errorf("discontinuity sequence not advanced:\n%s", body)
	}
}

func TestBadRequests(t *testing.T) {
	_, srv := newTestServer(t)
	for path, code := range map[string]int{
		"/live/other/index.m3u8":            404,
		"/live/show/../x/index.m3u8":        404,
		"/live/show/source/part1.m4s":       404,
		"/live/show/source/seg01.m4s":       404,
		"/live/show/Source.m3u8":            404,
		"/live/show/source/../passwd":       404,
		"/live/show/source/init-1.mp4":      404,
		"/live/show/source.m3u8?_HLS_msn=x": 400,
	} {
		if r, _ := get(t, srv.URL+path); r.StatusCode != code {
			t.Errorf("%s: %d, want %d", path, r.StatusCode, code)
		}
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/live/show/index.m3u8", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

// A longer hold-back is what the playlist tells players; HOLD-BACK, for
// players without parts, is never shorter.
func TestMediaPlaylistHoldBack(t *testing.T) {
	st := NewStream("live/show", Settings{SegmentTarget: 2 * time.Second, PartTarget: 500 * time.Millisecond, WindowSegments: 4, HoldBackParts: 8},
		[]RenditionInfo{{Name: "source", Bandwidth: 3_000_000}})
	t.Cleanup(st.Close)
	srv := httptest.NewServer(&Handler{Lookup: func(string) *Stream { return st }})
	t.Cleanup(srv.Close)
	feed(st, "source", 100, 0, 10, false)
	_, body := get(t, srv.URL+"/live/show/source.m3u8")
	if want := "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=4.00000,HOLD-BACK=6.00000\n"; !strings.Contains(body, want) {
		t.Errorf("playlist lacks %q:\n%s", want, body)
	}
}

// A viewer that holds a part's first bytes from the swarm asks for the
// rest: it gets only those, and only those are counted as served.
func TestMediaServesOneByteRange(t *testing.T) {
	st := NewStream("live/show", Settings{SegmentTarget: 2 * time.Second, PartTarget: 500 * time.Millisecond, WindowSegments: 4},
		[]RenditionInfo{{Name: "source", Bandwidth: 3_000_000}})
	t.Cleanup(st.Close)
	var served atomic.Int64
	srv := httptest.NewServer(&Handler{Lookup: func(string) *Stream { return st },
		OnServed: func(_, _ string, n int) { served.Add(int64(n)) }})
	t.Cleanup(srv.Close)
	feed(st, "source", 100, 0, 4, false) // one whole segment: "part-100-0;part-100-1;..."

	ranged := func(path, rng string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Range", rng)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := ranged("/live/show/source/part100.2.m4s", "bytes=5-")
	if resp.StatusCode != http.StatusPartialContent || body != "100-2;" || resp.Header.Get("Content-Range") != "bytes 5-10/11" {
		t.Fatalf("the rest of a part: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Range"))
	}
	// Counted once flushed, which may be just after the client read it.
	for deadline := time.Now().Add(time.Second); served.Load() < int64(len(body)) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if served.Load() != int64(len(body)) {
		t.Errorf("counted %d bytes served, sent %d", served.Load(), len(body))
	}
	// A range across the parts of a segment.
	if resp, body := ranged("/live/show/source/seg100.m4s", "bytes=9-13"); resp.StatusCode != http.StatusPartialContent || body != "0;par" {
		t.Errorf("a range across parts: %d %q", resp.StatusCode, body)
	}
	resp, body = ranged("/live/show/source/part100.2.m4s", "bytes=11-")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != "bytes */11" || !strings.Contains(body, "past the end") {
		t.Errorf("a range past the end: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Range"), body)
	}
	if resp, body := ranged("/live/show/source/part100.2.m4s", "bytes=0-1,4-5"); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || !strings.Contains(body, "only one byte range") {
		t.Errorf("two ranges: %d %q", resp.StatusCode, body)
	}
	if resp, body := ranged("/live/show/source/part100.2.m4s", "lines=1-2"); resp.StatusCode != http.StatusOK || body != "part-100-2;" {
		t.Errorf("another range unit is ignored: %d %q", resp.StatusCode, body)
	}
}
