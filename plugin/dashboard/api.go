package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/swarmtx/swarmtx/peerpool/client"
)

// Where the dashboard is served: the page, and its JSON under APIPrefix:
// StreamsURL lists the streams, StreamURL?path=P[&since=SEQ][&nodes=N]
// is one stream's figures, samples after SEQ and swarm picture of at
// most N nodes.
const (
	Page       = client.AssetPrefix
	APIPrefix  = client.AssetPrefix + "api/"
	StreamsURL = APIPrefix + "streams"
	StreamURL  = APIPrefix + "stream"
)

// Bounds of the swarm picture: DefaultNodes unless the page asks for up
// to MaxNodes; edges are bounded at edgesPerNode times the nodes.
const (
	DefaultNodes = 300
	MaxNodes     = 2000
	edgesPerNode = 4
	maxPathLen   = 1024
)

// Door reports whether a request path is the dashboard's: it must be let
// through only to whom /metrics is.
func Door(path string) bool {
	return path == Page || strings.HasPrefix(path, APIPrefix)
}

// Sample is one point of a stream's charts. Ratios and rates span the
// window before it (Config.Window samples); they are null when nothing
// was made or received over it.
type Sample struct {
	Seq int64 `json:"seq"`
	T   int64 `json:"t"` // Unix milliseconds
	// Viewers in the swarm (swarmtx_viewers).
	Viewers int `json:"viewers"`
	// Copies are the server's media bytes over HTTP and seeding ÷ the
	// bytes made, all renditions; ServerBps the same bytes per second.
	Copies    *float64 `json:"copies"`
	ServerBps float64  `json:"server_bps"`
	// P2PShare is the share of the viewers' reported media bytes that came
	// from peers.
	P2PShare   *float64          `json:"p2p_share"`
	Renditions []RenditionSample `json:"renditions"`
	// Stalls are the stalls viewers reported since the previous sample.
	Stalls float64 `json:"stalls"`
	// Lag is over the viewers' last reports; null when none knows its lag.
	Lag         *Lag           `json:"lag_ms"`
	Connections map[string]int `json:"connections"`
	WithoutP2P  int            `json:"without_p2p"`
	// Banned and Refused count since the stream's swarm started.
	Banned  float64 `json:"banned"`
	Refused int     `json:"refused"`
}

// RenditionSample is a rendition's point: its swarm viewers now and its
// server copies over the window, split into HTTP and seeding.
type RenditionSample struct {
	Name       string   `json:"name"`
	Viewers    int      `json:"viewers"`
	Copies     *float64 `json:"copies"`
	HTTPCopies *float64 `json:"http_copies"`
	SeedCopies *float64 `json:"seed_copies"`
}

// Lag summarises the lag behind live the viewers last reported, in
// milliseconds, over the Known viewers that know theirs.
type Lag struct {
	P50   int64 `json:"p50"`
	P90   int64 `json:"p90"`
	Max   int64 `json:"max"`
	Known int   `json:"known"`
}

// StreamsView is the answer of StreamsURL.
type StreamsView struct {
	Now        int64           `json:"now"`
	IntervalMs int64           `json:"interval_ms"`
	Streams    []StreamSummary `json:"streams"`
}

// StreamSummary is a stream in the list: its figures now and its last
// sample's ratios.
type StreamSummary struct {
	Path          string     `json:"path"`
	State         string     `json:"state"`
	AttachedSince *time.Time `json:"attached_since"`
	Renditions    []string   `json:"renditions"`
	Viewers       int        `json:"viewers"`
	ServerBytes   float64    `json:"server_bytes"`
	Copies        *float64   `json:"copies"`
	P2PShare      *float64   `json:"p2p_share"`
	Stalls        float64    `json:"stalls"`
}

// StreamView is the answer of StreamURL.
type StreamView struct {
	Path          string     `json:"path"`
	State         string     `json:"state"`
	AttachedSince *time.Time `json:"attached_since"`
	Now           int64      `json:"now"`
	IntervalMs    int64      `json:"interval_ms"`
	WindowMs      int64      `json:"window_ms"`
	Totals        Totals     `json:"totals"`
	// Samples are those after the request's since, oldest first; LastSeq
	// is the stream's latest (lower than a since given: its history
	// started again).
	Samples []Sample `json:"samples"`
	LastSeq int64    `json:"last_seq"`
	// Swarm is the picture at the last sample; null without a swarm.
	Swarm *Graph `json:"swarm"`
}

// Totals are a stream's figures at the request, as /metrics has them,
// with what the swarm looked like at the last sample (viewers per
// rendition, seeds, lag, refusals).
type Totals struct {
	Viewers     int      `json:"viewers"`
	ServerBytes ViaBytes `json:"server_bytes"`
	MediaBytes  float64  `json:"media_bytes"`
	// Copies are server bytes ÷ media bytes since the stream attached.
	Copies            *float64           `json:"copies"`
	ViewerBytes       SourceBytes        `json:"viewer_bytes"`
	P2PShare          *float64           `json:"p2p_share"`
	Stalls            float64            `json:"stalls"`
	Banned            map[string]float64 `json:"banned"`
	Refused           map[string]int     `json:"refused"`
	Connections       map[string]int     `json:"connections"`
	ViewersWithoutP2P int                `json:"viewers_without_p2p"`
	ControlBytes      map[string]float64 `json:"control_bytes"`
	LadderDropped     float64            `json:"ladder_dropped_frames"`
	Lag               *Lag               `json:"lag_ms"`
	Renditions        []RenditionTotals  `json:"renditions"`
}

// ViaBytes are server media bytes by channel.
type ViaBytes struct {
	HTTP  float64 `json:"http"`
	Peer  float64 `json:"peer"`
	Total float64 `json:"total"`
}

// SourceBytes are the viewers' media bytes by where they came from.
type SourceBytes struct {
	HTTP float64 `json:"http"`
	P2P  float64 `json:"p2p"`
}

// RenditionTotals are a rendition's figures.
type RenditionTotals struct {
	Name string `json:"name"`
	// Viewers in its swarm at the last sample; WindowViewers and
	// WindowCopies are the hub's last seed window (swarmtx_rendition_*).
	Viewers       int      `json:"viewers"`
	WindowViewers float64  `json:"window_viewers"`
	WindowCopies  float64  `json:"window_copies"`
	MadeBytes     float64  `json:"made_bytes"`
	HTTPBytes     float64  `json:"http_bytes"`
	PeerBytes     float64  `json:"peer_bytes"`
	Copies        *float64 `json:"copies"`
	// Seeds is the seed count and SeedTargets the viewers the seeder
	// pushes to now.
	Seeds       int `json:"seeds"`
	SeedTargets int `json:"seed_targets"`
}

// ServeHTTP serves the page and its JSON; the origin lets through only
// whom Door's paths are allowed for.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		jsonError(w, http.StatusMethodNotAllowed, "the dashboard only answers GET")
		return
	}
	switch r.URL.Path {
	case Page:
		client.ServeDashboard(w, r)
	case StreamsURL:
		d.serveStreams(w, r)
	case StreamURL:
		q, err := parseStreamQuery(r.URL.RawQuery)
		if err != nil {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		d.serveStream(w, r, q)
	default:
		jsonError(w, http.StatusNotFound, "no such dashboard resource: "+r.URL.Path)
	}
}

func (d *Dashboard) serveStreams(w http.ResponseWriter, r *http.Request) {
	streams, err := d.cfg.Source.Streams(r.Context())
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, "cannot list the streams: "+err.Error())
		return
	}
	v := StreamsView{Now: time.Now().UnixMilli(), IntervalMs: d.cfg.Every.Milliseconds(), Streams: []StreamSummary{}}
	d.mu.Lock()
	for _, st := range streams {
		s := StreamSummary{Path: st.Path, State: st.State, AttachedSince: timeOrNil(st.AttachedSince),
			Renditions: st.Renditions, Viewers: st.Figures.Viewers, Stalls: st.Figures.Stalls}
		for _, rf := range st.Figures.Renditions {
			s.ServerBytes += rf.HTTP + rf.Peer
		}
		if h := d.streams[st.Path]; h != nil && len(h.samples) > 0 {
			last := h.samples[len(h.samples)-1]
			s.Copies, s.P2PShare = last.Copies, last.P2PShare
		}
		v.Streams = append(v.Streams, s)
	}
	d.mu.Unlock()
	writeJSON(w, r, v)
}

func (d *Dashboard) serveStream(w http.ResponseWriter, r *http.Request, q streamQuery) {
	streams, err := d.cfg.Source.Streams(r.Context())
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, "cannot list the streams: "+err.Error())
		return
	}
	var st *Stream
	for i := range streams {
		if streams[i].Path == q.path {
			st = &streams[i]
		}
	}
	if st == nil {
		jsonError(w, http.StatusNotFound, fmt.Sprintf("no stream is served at %q", q.path))
		return
	}
	f := st.Figures
	v := StreamView{
		Path: st.Path, State: st.State, AttachedSince: timeOrNil(st.AttachedSince),
		Now: time.Now().UnixMilli(), IntervalMs: d.cfg.Every.Milliseconds(),
		WindowMs: d.cfg.Every.Milliseconds() * int64(d.cfg.Window),
		Totals: Totals{
			Viewers: f.Viewers, ViewerBytes: SourceBytes{HTTP: f.ViewerHTTP, P2P: f.ViewerP2P},
			P2PShare: ratio(f.ViewerP2P, f.ViewerHTTP+f.ViewerP2P), Stalls: f.Stalls,
			Banned: f.Banned, Refused: map[string]int{}, Connections: f.Connections,
			ViewersWithoutP2P: f.WithoutP2P, ControlBytes: f.Control, LadderDropped: f.LadderDropped,
			Renditions: []RenditionTotals{},
		},
		Samples: []Sample{},
	}
	d.mu.Lock()
	h := d.streams[st.Path]
	var byRendition map[string]int
	var seeds map[string]seedSummary
	if h != nil {
		v.Samples = h.since(q.since)
		v.LastSeq = h.seq
		if len(h.samples) > 0 {
			last := h.samples[len(h.samples)-1]
			v.Totals.Lag = last.Lag
			byRendition = make(map[string]int)
			for _, rs := range last.Renditions {
				byRendition[rs.Name] = rs.Viewers
			}
		}
		if h.graph != nil {
			g := h.graph.capped(q.nodes, q.nodes*edgesPerNode)
			g.EdgeWindowMs = v.WindowMs
			v.Swarm = &g
		}
		seeds = h.seeds
		for k, n := range h.refused {
			v.Totals.Refused[k] = n
		}
	}
	d.mu.Unlock()
	for _, name := range renditionOrder(*st) {
		rf := f.Renditions[name]
		rt := RenditionTotals{Name: name, Viewers: byRendition[name], Seeds: seeds[name].count, SeedTargets: seeds[name].targets}
		if rf != nil {
			rt.WindowViewers, rt.WindowCopies = rf.WindowViewers, rf.WindowCopies
			rt.MadeBytes, rt.HTTPBytes, rt.PeerBytes = rf.Made, rf.HTTP, rf.Peer
			rt.Copies = ratio(rf.HTTP+rf.Peer, rf.Made)
			v.Totals.ServerBytes.HTTP += rf.HTTP
			v.Totals.ServerBytes.Peer += rf.Peer
			v.Totals.MediaBytes += rf.Made
		}
		v.Totals.Renditions = append(v.Totals.Renditions, rt)
	}
	v.Totals.ServerBytes.Total = v.Totals.ServerBytes.HTTP + v.Totals.ServerBytes.Peer
	v.Totals.Copies = ratio(v.Totals.ServerBytes.Total, v.Totals.MediaBytes)
	writeJSON(w, r, v)
}

// streamQuery is what StreamURL is asked.
type streamQuery struct {
	path  string
	since int64
	nodes int
}

// parseStreamQuery reads StreamURL's query: path (required), since (a
// sample's seq; samples after it are sent, all by default) and nodes (the
// most nodes of the swarm picture, 1 to MaxNodes). Other parameters (a
// token for the access check) are left alone.
func parseStreamQuery(raw string) (streamQuery, error) {
	q := streamQuery{nodes: DefaultNodes}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("malformed query: %v", err)
	}
	q.path = vals.Get("path")
	switch {
	case q.path == "":
		return q, errors.New("the query needs path=, the stream's path")
	case len(q.path) > maxPathLen || !utf8.ValidString(q.path):
		return q, fmt.Errorf("path= is not a stream's path (at most %d bytes of UTF-8)", maxPathLen)
	}
	if s := vals.Get("since"); s != "" {
		if q.since, err = strconv.ParseInt(s, 10, 64); err != nil || q.since < 0 {
			return q, fmt.Errorf("since=%.20q is not a sample number (a whole number, 0 or more)", s)
		}
	}
	if s := vals.Get("nodes"); s != "" {
		if q.nodes, err = strconv.Atoi(s); err != nil || q.nodes < 1 || q.nodes > MaxNodes {
			return q, fmt.Errorf("nodes=%.20q is not a number of nodes from 1 to %d", s, MaxNodes)
		}
	}
	return q, nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "cannot encode the answer: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Figures of now: never from a cache.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
