package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// fakeSource is an origin whose figures and swarms the test sets.
type fakeSource struct {
	mu      sync.Mutex
	streams []Stream
	swarms  map[string]signal.Snapshot
}

func (f *fakeSource) Streams(context.Context) ([]Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Stream(nil), f.streams...), nil
}

func (f *fakeSource) Swarm(path string) (signal.Snapshot, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.swarms[path]
	return s, ok
}

func (f *fakeSource) set(st Stream, sw *signal.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams = []Stream{st}
	if f.swarms == nil {
		f.swarms = map[string]signal.Snapshot{}
	}
	if sw != nil {
		f.swarms[st.Path] = *sw
	}
}

// figures are a stream's series after n seconds of a source rendition at
// 100 kB/s, served at copies server copies, of which http over HTTP, to
// viewers who got p2p of their bytes from peers.
func figures(n, copies, http, p2p float64, viewers int) metrics.StreamFigures {
	made := 100_000 * n
	return metrics.StreamFigures{
		Viewers: viewers,
		Renditions: map[string]*metrics.RenditionFigures{
			"source": {Made: made, HTTP: made * http, Peer: made * (copies - http)},
		},
		ViewerHTTP: float64(viewers) * made * (1 - p2p), ViewerP2P: float64(viewers) * made * p2p,
		Banned: map[string]float64{"hash-mismatch": 1}, Connections: map[string]int{"host/udp": 4},
	}
}

func viewerAt(id string, lag int64, from ...wire.Received) signal.ViewerState {
	return signal.ViewerState{ID: wire.PeerID(id), Rendition: "source", Reported: true, LagMs: lag, InMesh: true, Uploads: true, From: from}
}

func TestSamplesOverTheWindow(t *testing.T) {
	src := &fakeSource{}
	d := New(Config{Source: src, Every: 2 * time.Second, Window: 2, Keep: 4, Logger: slog.New(slog.DiscardHandler)})
	t0 := time.Unix(1_000_000, 0)
	sw := &signal.Snapshot{Viewers: []signal.ViewerState{viewerAt("a", 1000), viewerAt("b", 3000), viewerAt("c", -1)},
		Refused: map[string]int{signal.RefusedFull: 2}}
	// Two copies (a quarter over HTTP) for the first 10 s, then one.
	st := Stream{Path: "live/show", State: "attached", Renditions: []string{"source"}}
	for i, c := range []struct{ at, copies, http float64 }{{0, 0, 0}, {10, 2, 0.5}, {12, 2.2, 0.5}, {14, 2.4, 0.5}} {
		st.Figures = figures(c.at, c.copies*c.at/max(c.at, 1), c.http*c.at/max(c.at, 1), 0.9, 3)
		st.Figures.Stalls = float64(i)
		src.set(st, sw)
		d.Sample(t.Context(), t0.Add(time.Duration(c.at)*time.Second))
	}
	d.mu.Lock()
	h := d.streams["live/show"]
	samples := h.since(0)
	d.mu.Unlock()
	if len(samples) != 4 {
		t.Fatalf("%d samples", len(samples))
	}
	first, last := samples[0], samples[3]
	if first.Copies != nil || first.P2PShare != nil {
		t.Errorf("a first sample has nothing to span: %+v", first)
	}
	// From 10 s to 14 s: made 400 kB, sent 2.4×1.4 MB − 2×1 MB = 1.36 MB.
	if last.Copies == nil || fmt.Sprintf("%.2f", *last.Copies) != "3.40" {
		t.Errorf("copies over the window %v, want 3.40", deref(last.Copies))
	}
	if last.P2PShare == nil || fmt.Sprintf("%.2f", *last.P2PShare) != "0.90" || last.Stalls != 1 || last.Viewers != 3 {
		t.Errorf("last sample %+v", last)
	}
	if last.Lag == nil || last.Lag.Known != 2 || last.Lag.Max != 3000 || last.Refused != 2 || last.Banned != 1 {
		t.Errorf("lag %+v, refused %d, banned %v", last.Lag, last.Refused, last.Banned)
	}
	if rs := last.Renditions; len(rs) != 1 || rs[0].Name != "source" || rs[0].Viewers != 3 || rs[0].HTTPCopies == nil {
		t.Errorf("renditions %+v", rs)
	}
	if last.ServerBps != 1_360_000/4 {
		t.Errorf("server rate %v B/s, want %v", last.ServerBps, 1_360_000/4)
	}
	// Keep bounds the history; a stream gone takes its history with it.
	st.Figures = figures(16, 2.4, 0.5, 0.9, 3)
	src.set(st, sw)
	d.Sample(t.Context(), t0.Add(16*time.Second))
	d.mu.Lock()
	if n := len(d.streams["live/show"].samples); n != 4 {
		t.Errorf("%d samples kept, want 4", n)
	}
	d.mu.Unlock()
	src.mu.Lock()
	src.streams = nil
	src.mu.Unlock()
	d.Sample(t.Context(), t0.Add(18*time.Second))
	d.mu.Lock()
	if len(d.streams) != 0 {
		t.Error("a stream no longer served kept its history")
	}
	d.mu.Unlock()
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// Edges are weighted by what their receivers confirmed over the window:
// what a link carried before the dashboard looked does not count, a
// counter that restarts is a link formed again, a link no longer reported
// is gone.
func TestEdgesWeighRecentBytes(t *testing.T) {
	src := &fakeSource{}
	d := New(Config{Source: src, Every: 2 * time.Second, Window: 2, Logger: slog.New(slog.DiscardHandler)})
	seed := signal.SeedState{ID: "S", Rendition: "source", Count: 1, Targets: []wire.PeerID{"a"}}
	st := Stream{Path: "live/show", State: "attached", Renditions: []string{"source"}}
	t0 := time.Unix(1_000_000, 0)
	step := func(i int, viewers ...signal.ViewerState) *Graph {
		src.set(st, &signal.Snapshot{At: t0, Viewers: viewers, Seeds: []signal.SeedState{seed}})
		d.Sample(t.Context(), t0.Add(time.Duration(i)*2*time.Second))
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.streams["live/show"].graph
	}
	rx := func(peer string, n int64) wire.Received { return wire.Received{Peer: wire.PeerID(peer), Bytes: n} }
	g := step(0, viewerAt("a", 100, rx("S", 5000)), viewerAt("b", 100, rx("a", 7000)))
	if len(g.Nodes) != 3 || len(g.Edges) != 0 || g.Nodes[0].Kind != KindSeed || !g.Nodes[1].SeedTarget {
		t.Fatalf("first sample: %+v", g)
	}
	g = step(1, viewerAt("a", 100, rx("S", 6000)), viewerAt("b", 100, rx("a", 9000)))
	if want := []Edge{{"a", "b", 2000}, {"S", "a", 1000}}; fmt.Sprint(g.Edges) != fmt.Sprint(want) {
		t.Errorf("edges %v, want %v", g.Edges, want)
	}
	// b's link to a formed again (its counter restarted at 300); c is fed
	// by b, new since the first sample, so all its bytes are recent.
	g = step(2, viewerAt("a", 100, rx("S", 6500)), viewerAt("b", 100, rx("a", 300)), viewerAt("c", 100, rx("b", 800)))
	if want := []Edge{{"a", "b", 2300}, {"S", "a", 1500}, {"b", "c", 800}}; fmt.Sprint(g.Edges) != fmt.Sprint(want) {
		t.Errorf("edges %v, want %v", g.Edges, want)
	}
	// The window is two samples: the first delta drops out. a stops
	// reporting its seed link.
	g = step(3, viewerAt("a", 100), viewerAt("b", 100, rx("a", 300)), viewerAt("c", 100, rx("b", 800)))
	if want := []Edge{{"b", "c", 800}, {"a", "b", 300}}; fmt.Sprint(g.Edges) != fmt.Sprint(want) {
		t.Errorf("edges %v, want %v", g.Edges, want)
	}
}

// A picture too large is cut to the top of the swarm, and says so.
func TestGraphIsCapped(t *testing.T) {
	g := &Graph{Nodes: []Node{{ID: "S", Kind: KindSeed}}}
	// A chain S → v0 → v1 → ... → v9, and ten viewers fed by nobody
	// listed before it.
	for i := range 10 {
		g.Nodes = append(g.Nodes, Node{ID: fmt.Sprintf("u%d", i), Kind: KindViewer})
	}
	prev := "S"
	for i := range 10 {
		id := fmt.Sprintf("v%d", i)
		g.Nodes = append(g.Nodes, Node{ID: id, Kind: KindViewer})
		g.Edges = append(g.Edges, Edge{From: prev, To: id, Bytes: int64(1000 - i)})
		prev = id
	}
	sortEdges(g.Edges)
	g.TotalNodes, g.TotalEdges = len(g.Nodes), len(g.Edges)
	c := g.capped(5, 3)
	var ids []string
	for _, n := range c.Nodes {
		ids = append(ids, n.ID)
	}
	if !c.Truncated || fmt.Sprint(ids) != "[S v0 v1 v2 v3]" || len(c.Edges) != 3 || c.Edges[0].To != "v0" || c.TotalNodes != 21 || c.MaxNodes != 5 {
		t.Errorf("capped: nodes %v, edges %v, truncated %v, total %d", ids, c.Edges, c.Truncated, c.TotalNodes)
	}
	if c := g.capped(100, 400); c.Truncated || len(c.Nodes) != 21 || len(c.Edges) != 10 {
		t.Errorf("a picture within bounds was cut: %d nodes, %d edges", len(c.Nodes), len(c.Edges))
	}
}

func TestAPI(t *testing.T) {
	src := &fakeSource{}
	d := New(Config{Source: src, Every: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	st := Stream{Path: "live/show", State: "attached", Renditions: []string{"source", "360p"}, AttachedSince: time.Unix(1_000_000, 0)}
	t0 := time.Now()
	sw := &signal.Snapshot{At: t0, Viewers: []signal.ViewerState{viewerAt("a", 1500), viewerAt("b", 2500)},
		Seeds: []signal.SeedState{{ID: "S", Rendition: "source", Count: 2, Targets: []wire.PeerID{"a", "b"}}}}
	for i := range 3 {
		st.Figures = figures(float64(10+2*i), 1.5, 0.25, 0.8, 2)
		src.set(st, sw)
		d.Sample(t.Context(), t0.Add(time.Duration(i)*2*time.Second))
	}
	// The figures at the request are read then, not at the last sample.
	st.Figures = figures(17, 1.5, 0.25, 0.8, 2)
	src.set(st, sw)

	get := func(url string) (*httptest.ResponseRecorder, map[string]any) {
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		var v map[string]any
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s: %v\n%s", url, err, rec.Body.String())
			}
		}
		return rec, v
	}
	rec, list := get(StreamsURL)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: %d %q", StreamsURL, rec.Code, rec.Header().Get("Cache-Control"))
	}
	streams := list["streams"].([]any)
	if len(streams) != 1 || streams[0].(map[string]any)["path"] != "live/show" || streams[0].(map[string]any)["viewers"] != 2.0 ||
		streams[0].(map[string]any)["server_bytes"] != 1.5*1_700_000 {
		t.Errorf("streams %v", streams)
	}

	var v StreamView
	rec = httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", StreamURL+"?path=live%2Fshow&nodes=2&jwt=x", nil))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Totals.Viewers != 2 || v.Totals.ServerBytes.Total != 1.5*1_700_000 || v.Totals.MediaBytes != 1_700_000 ||
		v.Totals.Copies == nil || *v.Totals.Copies != 1.5 || v.Totals.Lag == nil || v.Totals.Lag.P50 != 2500 {
		t.Errorf("totals %+v", v.Totals)
	}
	if len(v.Totals.Renditions) != 2 || v.Totals.Renditions[0].Seeds != 2 || v.Totals.Renditions[0].SeedTargets != 2 ||
		v.Totals.Renditions[0].Viewers != 2 || v.Totals.Renditions[1].Name != "360p" || v.Totals.Renditions[1].Copies != nil {
		t.Errorf("renditions %+v", v.Totals.Renditions)
	}
	if len(v.Samples) != 3 || v.LastSeq != 3 || v.WindowMs != 10_000 || v.IntervalMs != 2000 {
		t.Errorf("%d samples, last %d, window %d ms", len(v.Samples), v.LastSeq, v.WindowMs)
	}
	if g := v.Swarm; g == nil || len(g.Nodes) != 2 || !g.Truncated || g.TotalNodes != 3 || g.MaxNodes != 2 {
		t.Errorf("swarm %+v", v.Swarm)
	}
	if _, since := get(StreamURL + "?path=live/show&since=2"); len(since["samples"].([]any)) != 1 {
		t.Errorf("since=2 gave %v", since["samples"])
	}
	for url, code := range map[string]int{
		StreamURL:                                 400,
		StreamURL + "?path=":                      400,
		StreamURL + "?path=live/show&since=-1":    400,
		StreamURL + "?path=live/show&nodes=0":     400,
		StreamURL + "?path=live/show&nodes=99999": 400,
		StreamURL + "?path=live/show&since=%zz":   400,
		StreamURL + "?path=live/nope":             404,
		APIPrefix + "nothing":                     404,
	} {
		if rec, v := get(url); rec.Code != code || v["error"] == "" {
			t.Errorf("%s: %d %v, want %d with an error", url, rec.Code, v, code)
		}
	}
	rec = httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("POST", StreamsURL, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	rec, _ = get(Page)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "swarmtx") {
		t.Errorf("page: %d", rec.Code)
	}
}

func TestDoor(t *testing.T) {
	for path, want := range map[string]bool{
		"/_swarmtx/": true, "/_swarmtx/api/streams": true, "/_swarmtx/api/stream": true, "/_swarmtx/api/": true,
		"/_swarmtx/player.js": false, "/_swarmtx": false, "/metrics": false, "/live/show/": false,
	} {
		if Door(path) != want {
			t.Errorf("Door(%q) = %v", path, !want)
		}
	}
}
