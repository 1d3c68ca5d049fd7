package dashboard

import (
	"slices"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// history is one stream's last samples and what its swarm looked like at
// the last one.
type history struct {
	keep, window int
	seq          int64
	samples      []kept // oldest first, at most keep
	// edges are the feeding links seen at the last sample, with the bytes
	// their receivers confirmed over the last window samples.
	edges  map[edgeKey]*edgeRecent
	primed bool // a first sample has set every edge's counter
	graph  *Graph
	// seeds and refused are the swarm's at the last sample: each
	// rendition's seed count and targets, the joins refused by kind.
	seeds   map[string]seedSummary
	refused map[string]int
}

type seedSummary struct{ count, targets int }

// kept is a sample with the running totals it was taken at, from which
// the next samples' windowed figures are derived.
type kept struct {
	Sample
	totals runningTotals
}

type runningTotals struct {
	made, http, peer      map[string]float64 // by rendition
	viewerHTTP, viewerP2P float64
	stalls                float64
}

type edgeKey struct{ from, to wire.PeerID }

// edgeRecent is a link's confirmed bytes: the receiver's counter at the
// last sample, and what it grew by at each of the last window samples.
type edgeRecent struct {
	last   int64
	deltas []int64 // ring of window
	next   int
}

func (e *edgeRecent) sum() int64 {
	var n int64
	for _, d := range e.deltas {
		n += d
	}
	return n
}

func newHistory(keep, window int) *history {
	return &history{keep: keep, window: window, edges: make(map[edgeKey]*edgeRecent)}
}

// add takes a sample of st, whose swarm (nil: none) is sw.
func (h *history) add(now time.Time, st Stream, sw *signal.Snapshot) {
	h.seq++
	k := kept{totals: totalsOf(st)}
	s := &k.Sample
	s.Seq, s.T = h.seq, now.UnixMilli()
	s.Viewers = st.Figures.Viewers
	s.Connections = st.Figures.Connections
	s.WithoutP2P = st.Figures.WithoutP2P
	for _, n := range st.Figures.Banned {
		s.Banned += n
	}
	var byRendition map[string]int
	if sw != nil {
		byRendition = make(map[string]int)
		for _, v := range sw.Viewers {
			byRendition[v.Rendition]++
		}
		s.Lag = lagOf(sw.Viewers)
		for _, n := range sw.Refused {
			s.Refused += n
		}
	}
	// The windowed figures span from the sample window samples back (or
	// the oldest kept) to this one.
	var from *runningTotals
	var span time.Duration
	if n := len(h.samples); n > 0 {
		base := h.samples[max(0, n-h.window)]
		from = &base.totals
		span = now.Sub(time.UnixMilli(base.T))
		s.Stalls = k.totals.stalls - h.samples[n-1].totals.stalls
	}
	var allMade, allSent float64
	for _, name := range renditionOrder(st) {
		rs := RenditionSample{Name: name, Viewers: byRendition[name]}
		if from != nil {
			made := k.totals.made[name] - from.made[name]
			http := k.totals.http[name] - from.http[name]
			peer := k.totals.peer[name] - from.peer[name]
			rs.Copies = ratio(http+peer, made)
			rs.HTTPCopies = ratio(http, made)
			rs.SeedCopies = ratio(peer, made)
			allMade += made
			allSent += http + peer
		}
		s.Renditions = append(s.Renditions, rs)
	}
	if from != nil {
		s.Copies = ratio(allSent, allMade)
		p2p := k.totals.viewerP2P - from.viewerP2P
		s.P2PShare = ratio(p2p, p2p+k.totals.viewerHTTP-from.viewerHTTP)
		if span > 0 {
			s.ServerBps = allSent / span.Seconds()
		}
	}
	h.samples = append(h.samples, k)
	if len(h.samples) > h.keep {
		h.samples = slices.Delete(h.samples, 0, len(h.samples)-h.keep)
	}
	if sw == nil {
		h.graph, h.seeds, h.refused = nil, nil, nil
		clear(h.edges)
		return
	}
	h.seeds = make(map[string]seedSummary, len(sw.Seeds))
	for _, sd := range sw.Seeds {
		h.seeds[sd.Rendition] = seedSummary{count: sd.Count, targets: len(sd.Targets)}
	}
	h.refused = sw.Refused
	h.feed(sw)
	h.graph = buildGraph(sw, h.edges)
}

// feed takes each link's counter from the viewers' last stats: what it
// grew by since the last sample goes into the link's window. A counter
// that went down belongs to a link that was cut and formed again, and
// counts from zero. Links no longer reported are forgotten.
func (h *history) feed(sw *signal.Snapshot) {
	seen := make(map[edgeKey]bool, len(h.edges))
	for _, v := range sw.Viewers {
		for _, r := range v.From {
			key := edgeKey{from: r.Peer, to: v.ID}
			seen[key] = true
			e := h.edges[key]
			if e == nil {
				e = &edgeRecent{deltas: make([]int64, h.window)}
				if !h.primed {
					// What a link carried before the dashboard first looked
					// is not recent.
					e.last = r.Bytes
				}
				h.edges[key] = e
			}
			d := r.Bytes - e.last
			if d < 0 {
				d = r.Bytes
			}
			e.last = r.Bytes
			e.deltas[e.next] = d
			e.next = (e.next + 1) % len(e.deltas)
		}
	}
	for key := range h.edges {
		if !seen[key] {
			delete(h.edges, key)
		}
	}
	h.primed = true
}

// since are the kept samples after seq.
func (h *history) since(seq int64) []Sample {
	out := make([]Sample, 0, len(h.samples))
	for _, k := range h.samples {
		if k.Seq > seq {
			out = append(out, k.Sample)
		}
	}
	return out
}

func totalsOf(st Stream) runningTotals {
	t := runningTotals{
		made: make(map[string]float64), http: make(map[string]float64), peer: make(map[string]float64),
		viewerHTTP: st.Figures.ViewerHTTP, viewerP2P: st.Figures.ViewerP2P, stalls: st.Figures.Stalls,
	}
	for name, r := range st.Figures.Renditions {
		t.made[name], t.http[name], t.peer[name] = r.Made, r.HTTP, r.Peer
	}
	return t
}

// renditionOrder is the ladder's order, then any rendition only the
// metrics know of (sorted), so charts keep their colours.
func renditionOrder(st Stream) []string {
	order := slices.Clone(st.Renditions)
	var extra []string
	for name := range st.Figures.Renditions {
		if !slices.Contains(order, name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	return append(order, extra...)
}

// lagOf summarises the lag the viewers last reported; nil when none
// knows its own.
func lagOf(viewers []signal.ViewerState) *Lag {
	var lags []int64
	for _, v := range viewers {
		if v.Reported && v.LagMs >= 0 {
			lags = append(lags, v.LagMs)
		}
	}
	if len(lags) == 0 {
		return nil
	}
	slices.Sort(lags)
	at := func(q float64) int64 { return lags[int(q*float64(len(lags)-1)+0.5)] }
	return &Lag{P50: at(0.5), P90: at(0.9), Max: lags[len(lags)-1], Known: len(lags)}
}

// ratio is a/b, nil when b is not positive (nothing to divide by yet).
func ratio(a, b float64) *float64 {
	if b <= 0 {
		return nil
	}
	r := a / b
	return &r
}
