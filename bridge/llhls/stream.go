// Package llhls keeps a bounded window of a stream's CMAF media in memory
// and serves it as Low-Latency HLS: a multivariant playlist, one media
// playlist per rendition with parts, preload hints and blocking reload.
package llhls

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/swarmtx/swarmtx/bridge/cmaf"
)

// Settings shape the playlists of a stream.
type Settings struct {
	SegmentTarget  time.Duration
	PartTarget     time.Duration
	WindowSegments int // complete segments kept and listed
	// HoldBackParts is the playlists' PART-HOLD-BACK in parts; 0 means 3,
	// the least the LL-HLS spec recommends.
	HoldBackParts int
}

// RenditionInfo is what the multivariant playlist says before the media does.
type RenditionInfo struct {
	Name string
	// Bandwidth is the expected peak bits/s; measured figures replace it.
	Bandwidth int
}

// Stream is the in-memory origin of one stream. It implements cmaf.Output
// for all of the stream's renditions.
type Stream struct {
	path     string
	settings Settings

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change
	renditions map[string]*rendition
	order      []string
	closed     bool
}

type segment struct {
	msn      uint64
	start    cmaf.SegmentStart
	parts    []*cmaf.Part
	duration time.Duration
	complete bool
	gap      bool
	bytes    int
}

type rendition struct {
	info      RenditionInfo
	inits     map[uint64]*cmaf.Init
	latest    *cmaf.Init
	segments  []*segment // oldest first; the last may be open
	discSeq   int        // discontinuities that slid out of the window
	targetDur int        // EXT-X-TARGETDURATION, never decreases
	peakBPS   int
}

// NewStream returns an empty origin for the stream at path.
func NewStream(path string, s Settings, renditions []RenditionInfo) *Stream {
	st := &Stream{
		path:       path,
		settings:   s,
		changed:    make(chan struct{}),
		renditions: make(map[string]*rendition),
	}
	for _, r := range renditions {
		st.addLocked(r)
	}
	return st
}

// Path returns the stream's MediaMTX path.
func (st *Stream) Path() string { return st.path }

// Settings returns the stream's playlist settings.
func (st *Stream) Settings() Settings { return st.settings }

// SetRenditions declares the renditions the stream will have; ones already
// known keep their media.
func (st *Stream) SetRenditions(renditions []RenditionInfo) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range renditions {
		if existing, ok := st.renditions[r.Name]; ok {
			existing.info = r
			continue
		}
		st.addLocked(r)
	}
	st.notifyLocked()
}

func (st *Stream) addLocked(r RenditionInfo) {
	st.renditions[r.Name] = &rendition{
		info:      r,
		inits:     make(map[uint64]*cmaf.Init),
		targetDur: int(math.Ceil(st.settings.SegmentTarget.Seconds())),
	}
	st.order = append(st.order, r.Name)
}

// Close wakes every waiting request; the stream serves nothing after it.
func (st *Stream) Close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	st.notifyLocked()
}

func (st *Stream) notifyLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

// PublishInit implements cmaf.Output.
func (st *Stream) PublishInit(init *cmaf.Init) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.renditions[init.Rendition]
	if r == nil {
		return
	}
	r.inits[init.ID] = init
	r.latest = init
	st.notifyLocked()
}

// PublishPart implements cmaf.Output.
func (st *Stream) PublishPart(p *cmaf.Part) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.renditions[p.ID.Rendition]
	if r == nil {
		return
	}
	open := r.open()
	if open == nil || open.msn != p.ID.MSN {
		if p.Segment == nil || p.ID.Index != 0 {
			return // a part of a segment we never saw begin
		}
		if open != nil {
			r.complete(open)
		}
		if last := r.last(); last != nil && p.ID.MSN > last.msn+1 {
			r.fillGap(last.msn+1, p.ID.MSN, st.settings.SegmentTarget)
		} else if last != nil && p.ID.MSN <= last.msn {
			return // numbers never go back
		}
		open = &segment{msn: p.ID.MSN, start: *p.Segment}
		r.segments = append(r.segments, open)
	}
	if p.ID.Index != len(open.parts) {
		return
	}
	open.parts = append(open.parts, p)
	open.bytes += len(p.Data)
	st.notifyLocked()
}

// FinishSegment implements cmaf.Output.
func (st *Stream) FinishSegment(rend string, msn uint64, d time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.renditions[rend]
	if r == nil {
		return
	}
	if open := r.open(); open != nil && open.msn == msn {
		open.duration = d
		r.complete(open)
		r.trim(st.settings.WindowSegments)
		st.notifyLocked()
	}
}

func (r *rendition) open() *segment {
	if n := len(r.segments); n > 0 && !r.segments[n-1].complete {
		return r.segments[n-1]
	}
	return nil
}

func (r *rendition) last() *segment {
	if n := len(r.segments); n > 0 {
		return r.segments[n-1]
	}
	return nil
}

func (r *rendition) complete(s *segment) {
	if s.duration <= 0 {
		for _, p := range s.parts {
			s.duration += p.Duration
		}
	}
	s.complete = true
	if d := int(math.Round(s.duration.Seconds())); d > r.targetDur {
		r.targetDur = d
	}
	if s.duration > 0 {
		if bps := int(float64(s.bytes*8) / s.duration.Seconds()); bps > r.peakBPS {
			r.peakBPS = bps
		}
	}
}

// fillGap lists segments a rendition missed (its encoder fell behind) as
// EXT-X-GAP, so media sequence numbers stay aligned with other renditions.
func (r *rendition) fillGap(from, to uint64, d time.Duration) {
	if to-from > 16 {
		from = to - 16
	}
	for msn := from; msn < to; msn++ {
		r.segments = append(r.segments, &segment{msn: msn, duration: d, complete: true, gap: true,
			start: cmaf.SegmentStart{InitID: r.latestInitID()}})
	}
}

func (r *rendition) latestInitID() uint64 {
	if r.latest != nil {
		return r.latest.ID
	}
	return 0
}

// trim keeps window complete segments plus the open one, and the init
// segments they use.
func (r *rendition) trim(window int) {
	complete := len(r.segments)
	if r.open() != nil {
		complete--
	}
	drop := complete - window
	if drop <= 0 {
		return
	}
	for _, s := range r.segments[:drop] {
		if s.start.Discontinuity {
			r.discSeq++
		}
	}
	r.segments = append(r.segments[:0:0], r.segments[drop:]...)
	used := map[uint64]bool{r.latestInitID(): true}
	for _, s := range r.segments {
		used[s.start.InitID] = true
	}
	for id := range r.inits {
		if !used[id] {
			delete(r.inits, id)
		}
	}
}

// wait blocks until ready returns true (checked under the lock), the
// context ends or the stream closes.
func (st *Stream) wait(ctx context.Context, ready func() bool) bool {
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return false
		}
		if ready() {
			st.mu.Unlock()
			return true
		}
		ch := st.changed
		st.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// RenditionStats summarises one rendition for status and metrics.
type RenditionStats struct {
	Name       string
	Width      int
	Height     int
	Codecs     string
	Bandwidth  int
	Segments   int
	LastMSN    uint64
	WindowSize int // bytes of media held
}

// Stats returns a snapshot of every rendition, in declaration order.
func (st *Stream) Stats() []RenditionStats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]RenditionStats, 0, len(st.order))
	for _, name := range st.order {
		r := st.renditions[name]
		rs := RenditionStats{Name: name, Bandwidth: r.bandwidth(), Segments: len(r.segments)}
		if r.latest != nil {
			rs.Width, rs.Height, rs.Codecs = r.latest.Width, r.latest.Height, r.latest.Codecs
		}
		if last := r.last(); last != nil {
			rs.LastMSN = last.msn
		}
		for _, s := range r.segments {
			rs.WindowSize += s.bytes
		}
		out = append(out, rs)
	}
	return out
}

func (r *rendition) bandwidth() int {
	if r.peakBPS == 0 {
		// No complete segment yet: estimate from the parts so far, so the
		// source is not announced as the cheapest rendition.
		var bytes int
		var d time.Duration
		for _, s := range r.segments {
			for _, p := range s.parts {
				bytes += len(p.Data)
				d += p.Duration
			}
		}
		if d > 0 {
			return max(int(float64(bytes*8)/d.Seconds()), r.info.Bandwidth)
		}
	}
	return max(r.peakBPS, r.info.Bandwidth)
}

// ready reports whether the rendition has a complete segment: players
// without LL-HLS support need one before a playlist is any use to them.
func (r *rendition) ready() bool {
	if r.latest == nil {
		return false
	}
	for _, s := range r.segments {
		if s.complete && !s.gap {
			return true
		}
	}
	return false
}

// readyRenditions lists renditions that have media, highest bandwidth first.
func (st *Stream) readyRenditionsLocked() []*rendition {
	var out []*rendition
	for _, name := range st.order {
		r := st.renditions[name]
		if r.ready() {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].bandwidth() > out[j].bandwidth() })
	return out
}
