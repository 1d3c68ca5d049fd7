// Package crowd runs a crowd of Go viewers of one swarmtx stream, each a
// real viewer (LL-HLS playback and the swarm's peer protocol over WebRTC)
// with its own upload cap drawn from a Mix: the demo's audience, and a load
// test operators can point at their own origin (`swarmtx crowd`).
package crowd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/viewer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Config configures a crowd.
type Config struct {
	// URL is the stream's base on the origin, e.g.
	// http://origin:8880/live/show/ (its index.m3u8 is accepted too).
	URL string
	// Viewers is the crowd's size.
	Viewers int
	// Rendition the viewers follow; default: "source" when the stream has
	// it (the one a publisher's whole audience can share), else the first
	// the multivariant playlist lists.
	Rendition string
	// Mix spreads upload caps over the viewers; default DefaultMix.
	Mix Mix
	// JoinEvery paces the joins, as an audience arrives over time;
	// default 200 ms.
	JoinEvery time.Duration
	// Rejoin is how long a viewer that lost the stream waits before
	// joining again, as a user reloading the page; default 2 s.
	Rejoin time.Duration
	// SwarmWait is how long a viewer waits for the swarm before fetching
	// a part over HTTP. 0 waits as long as its playback buffer allows: the
	// HTTP fetch still lands before the playhead needs the part. (The
	// browser player waits one and a half part durations, at most 1 s.)
	SwarmWait time.Duration
	// Header is added to every request of every viewer: credentials for a
	// protected stream (see viewer.Config.Header).
	Header http.Header
	// API builds the viewers' PeerConnections; nil means peer.NewAPI(nil).
	API        *webrtc.API
	HTTPClient *http.Client
	Logger     *slog.Logger
}

const (
	defaultJoinEvery = 200 * time.Millisecond
	defaultRejoin    = 2 * time.Second
	// MaxViewers bounds one process's crowd: each viewer holds
	// PeerConnections and buffers, and past this one machine measures
	// itself, not the origin.
	MaxViewers = 1000
)

// Crowd is a running crowd. Its methods are safe for concurrent use.
type Crowd struct {
	cfg       Config
	base      string
	bitRate   int64 // bits/s the multivariant playlist declares
	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	started   time.Time
	mu        sync.Mutex
	slots     []*slot
	rendition string
}

// slot is one place in the crowd: the viewer now in it and the figures of
// the ones it replaced.
type slot struct {
	upload float64 // multiple of the bit rate
	cur    *viewer.Viewer
	past   viewer.Stats // summed counters of earlier viewers of this slot
	joins  int
}

// Start fetches the stream's multivariant playlist, picks the rendition
// and starts joining viewers; it returns once the crowd is under way.
func Start(ctx context.Context, cfg Config) (*Crowd, error) {
	if cfg.Viewers <= 0 || cfg.Viewers > MaxViewers {
		return nil, fmt.Errorf("crowd: %d viewers is outside 1..%d", cfg.Viewers, MaxViewers)
	}
	if cfg.Mix == nil {
		cfg.Mix = DefaultMix
	}
	if cfg.JoinEvery <= 0 {
		cfg.JoinEvery = defaultJoinEvery
	}
	if cfg.Rejoin <= 0 {
		cfg.Rejoin = defaultRejoin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base := strings.TrimSuffix(cfg.URL, "index.m3u8")
	variants, err := viewer.Variants(ctx, viewer.Config{URL: base, HTTPClient: cfg.HTTPClient, Header: cfg.Header})
	if err != nil {
		return nil, fmt.Errorf("crowd: %w", err)
	}
	if len(variants) == 0 {
		return nil, fmt.Errorf("crowd: %sindex.m3u8 lists no rendition a viewer can follow", base)
	}
	pick, err := pickVariant(variants, cfg.Rendition)
	if err != nil {
		return nil, fmt.Errorf("crowd: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &Crowd{
		cfg: cfg, base: base, bitRate: pick.Bandwidth, rendition: pick.Name,
		log: cfg.Logger.With("component", "crowd"), cancel: cancel, started: time.Now(),
	}
	for _, up := range cfg.Mix.Uploads(cfg.Viewers) {
		c.slots = append(c.slots, &slot{upload: up})
	}
	for i, s := range c.slots {
		c.wg.Add(1)
		go c.run(ctx, s, time.Duration(i)*cfg.JoinEvery)
	}
	return c, nil
}

// pickVariant finds the rendition asked for, or the default one.
func pickVariant(variants []viewer.Variant, asked string) (viewer.Variant, error) {
	want := asked
	if want == "" {
		want = "source"
	}
	var names []string
	for _, v := range variants {
		if v.Name == want {
			return v, nil
		}
		names = append(names, v.Name)
	}
	if asked != "" {
		return viewer.Variant{}, fmt.Errorf("rendition %q is not offered; the stream has %s", asked, strings.Join(names, ", "))
	}
	return variants[0], nil
}

// swarmWait is the viewers' PartDeadline. The viewer cuts any wait to
// what its buffer allows, so "as long as the buffer allows" is any wait
// longer than a buffer.
func (c *Crowd) swarmWait(wire.PartID, time.Duration) time.Duration {
	if c.cfg.SwarmWait > 0 {
		return c.cfg.SwarmWait
	}
	return time.Minute
}

// uploadCap is a viewer's cap in bytes/s for upload times the bit rate;
// never 0, which would mean no cap at all.
func (c *Crowd) uploadCap(upload float64) int64 {
	return int64(max(1, min(upload*float64(c.bitRate)/8, float64(wire.MaxUploadCapBps))))
}

// run keeps a viewer in s from its join time until ctx ends, replacing it
// when it stops.
func (c *Crowd) run(ctx context.Context, s *slot, after time.Duration) {
	defer c.wg.Done()
	if !sleep(ctx, after) {
		return
	}
	for {
		v, err := viewer.Run(ctx, viewer.Config{
			URL:          c.base,
			Rendition:    c.rendition,
			CanUpload:    s.upload > 0,
			UploadCapBps: c.uploadCap(s.upload),
			PartDeadline: c.swarmWait,
			API:          c.cfg.API,
			HTTPClient:   c.cfg.HTTPClient,
			Header:       c.cfg.Header,
			Logger:       c.cfg.Logger,
		})
		if err == nil {
			c.mu.Lock()
			s.cur, s.joins = v, s.joins+1
			c.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-v.Done():
			}
			v.Close()
			err = v.Err()
			c.mu.Lock()
			s.past = add(s.past, v.Stats())
			s.cur = nil
			c.mu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("a viewer left the stream; it rejoins", "error", err, "in", c.cfg.Rejoin)
		if !sleep(ctx, c.cfg.Rejoin) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// add sums the counters of two viewers' Stats.
func add(a, b viewer.Stats) viewer.Stats {
	a.HTTPBytes += b.HTTPBytes
	a.P2PBytes += b.P2PBytes
	a.UploadBytes += b.UploadBytes
	a.Stalls += b.Stalls
	a.StallTime += b.StallTime
	a.PartsPlayed += b.PartsPlayed
	a.Fallbacks.InFlight += b.Fallbacks.InFlight
	a.Fallbacks.Declined += b.Fallbacks.Declined
	a.Fallbacks.NoHolder += b.Fallbacks.NoHolder
	a.HTTPHashMismatches += b.HTTPHashMismatches
	a.PeerHashMismatches += b.PeerHashMismatches
	a.PeerProtocolErrors += b.PeerProtocolErrors
	return a
}

// Close makes every viewer leave and waits for them.
func (c *Crowd) Close() {
	c.cancel()
	c.wg.Wait()
}

// Snapshot is the crowd's figures at one moment: counters since Start,
// the rest as they are now.
type Snapshot struct {
	URL       string        `json:"url"`
	Rendition string        `json:"rendition"`
	BitRate   int64         `json:"bit_rate"` // bits/s the playlist declares
	Mix       string        `json:"upload_mix"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Viewers   int           `json:"viewers"` // the crowd's size
	Joined    int           `json:"joined"`  // in the swarm now
	Playing   int           `json:"playing"` // joined and past startup
	Rejoins   int           `json:"rejoins"` // viewers that left and joined again
	// Media bytes the viewers got over HTTP and from each other, and what
	// they uploaded.
	HTTPBytes   int64 `json:"http_bytes"`
	P2PBytes    int64 `json:"p2p_bytes"`
	UploadBytes int64 `json:"upload_bytes"`
	// Parts fetched over HTTP after waiting for the swarm in vain: a
	// transfer was still under way, neighbours had the part but declined
	// or stalled, no neighbour had it.
	HTTPInFlight int           `json:"http_after_wait_in_flight"`
	HTTPDeclined int           `json:"http_after_wait_declined"`
	HTTPNoHolder int           `json:"http_after_wait_no_holder"`
	Stalls       int           `json:"stalls"`
	StallTime    time.Duration `json:"stall_ns"`
	// Live lag of the playing viewers (0 when none reports one).
	LagP50 time.Duration `json:"lag_p50_ns"`
	LagP95 time.Duration `json:"lag_p95_ns"`
	// Peers is the mean number of connected neighbours.
	Peers float64 `json:"peers"`
	// BadParts are parts that failed verification (over HTTP or from a
	// neighbour) and protocol errors of neighbours: nonzero means a viewer
	// met a corrupted stream or a misbehaving peer.
	BadParts int64 `json:"bad_parts"`
}

// P2PShare is the share of the media bytes that came from other viewers.
func (s Snapshot) P2PShare() float64 {
	if t := s.HTTPBytes + s.P2PBytes; t > 0 {
		return float64(s.P2PBytes) / float64(t)
	}
	return 0
}

// Snapshot sums the viewers' figures.
func (c *Crowd) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Snapshot{
		URL: c.base, Rendition: c.rendition, BitRate: c.bitRate, Mix: c.cfg.Mix.String(),
		Elapsed: time.Since(c.started), Viewers: len(c.slots),
	}
	var lags []time.Duration
	peers := 0
	for _, sl := range c.slots {
		total := sl.past
		if sl.joins > 1 {
			s.Rejoins += sl.joins - 1
		}
		if sl.cur != nil {
			st := sl.cur.Stats()
			total = add(total, st)
			s.Joined++
			peers += st.Peers
			if st.Playing {
				s.Playing++
				if st.Lag > 0 {
					lags = append(lags, st.Lag)
				}
			}
		}
		s.HTTPBytes += total.HTTPBytes
		s.P2PBytes += total.P2PBytes
		s.UploadBytes += total.UploadBytes
		s.HTTPInFlight += total.Fallbacks.InFlight
		s.HTTPDeclined += total.Fallbacks.Declined
		s.HTTPNoHolder += total.Fallbacks.NoHolder
		s.Stalls += total.Stalls
		s.StallTime += total.StallTime
		s.BadParts += int64(total.HTTPHashMismatches) + total.PeerHashMismatches + total.PeerProtocolErrors
	}
	if s.Joined > 0 {
		s.Peers = float64(peers) / float64(s.Joined)
	}
	if len(lags) > 0 {
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		s.LagP50 = lags[len(lags)/2]
		s.LagP95 = lags[min(len(lags)-1, len(lags)*95/100)]
	}
	return s
}

// String renders s as one status line of at most 100 columns.
func (s Snapshot) String() string {
	lag := "-"
	if s.LagP50 > 0 {
		lag = fmt.Sprintf("%.1f s (p95 %.1f)", s.LagP50.Seconds(), s.LagP95.Seconds())
	}
	line := fmt.Sprintf("%d/%d playing, P2P %.0f%%, lag %s, stalls %d (%.1f s), %.1f peers",
		s.Playing, s.Viewers, 100*s.P2PShare(), lag, s.Stalls, s.StallTime.Seconds(), s.Peers)
	if s.BadParts > 0 {
		line += fmt.Sprintf(", %d BAD PARTS", s.BadParts)
	}
	return line
}
