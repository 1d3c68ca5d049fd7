// Package dashboard is the operator's live view of the origin, served at
// /_swarmtx/: per stream, viewers, server copies per rendition, P2P share,
// stalls, lag, connection types, bans and refusals over the last minutes,
// and a picture of the swarm (seeders, viewers, who feeds whom). It keeps
// a short history of samples itself, so charts have a past the moment the
// page opens, and serves it as JSON to the page (peerpool/client's
// dashboard script). Every figure comes from what the origin already
// counts: the /metrics collectors and the signaling hub's snapshot.
package dashboard

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/peerpool/signal"
)

// Stream is one stream as the origin knows it now.
type Stream struct {
	Path          string
	State         string // attached, waiting-for-reconnect
	AttachedSince time.Time
	// Renditions are the ladder's, in its order.
	Renditions []string
	// Figures are the stream's series as /metrics serves them.
	Figures metrics.StreamFigures
}

// Source is what the dashboard reads: the origin.
type Source interface {
	// Streams lists the streams served now, with their figures.
	Streams(ctx context.Context) ([]Stream, error)
	// Swarm is the stream's swarm now; false when it has none (yet).
	Swarm(path string) (signal.Snapshot, bool)
}

// Config sets up a Dashboard.
type Config struct {
	Source Source
	// Every is how often a sample is taken (default 2 s); Keep how many
	// are kept per stream (default 150: five minutes at 2 s).
	Every time.Duration
	Keep  int
	// Window is how many samples the charts' rates and ratios span
	// (default 5: 10 s at 2 s), so that a viewer's stats arriving just
	// before or after a sample do not make the lines saw.
	Window int
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Every <= 0 {
		c.Every = 2 * time.Second
	}
	if c.Keep <= 0 {
		c.Keep = 150
	}
	if c.Window <= 0 {
		c.Window = 5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Dashboard samples the origin's streams and serves the view of them.
type Dashboard struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	streams map[string]*history
}

// New returns a Dashboard; Run samples, ServeHTTP serves.
func New(cfg Config) *Dashboard {
	cfg = cfg.withDefaults()
	return &Dashboard{cfg: cfg, log: cfg.Logger, streams: make(map[string]*history)}
}

// Run takes a sample every Config.Every until ctx ends.
func (d *Dashboard) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Every)
	defer t.Stop()
	d.Sample(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.Sample(ctx, now)
		}
	}
}

// Sample takes one sample of every stream at now; a stream no longer
// served loses its history.
func (d *Dashboard) Sample(ctx context.Context, now time.Time) {
	streams, err := d.cfg.Source.Streams(ctx)
	if err != nil {
		d.log.Warn("dashboard: cannot list the streams", "error", err)
		return
	}
	// The swarms are read outside the dashboard's lock: each takes its
	// hub's, which viewers' messages wait on.
	swarms := make([]*signal.Snapshot, len(streams))
	for i, st := range streams {
		if s, ok := d.cfg.Source.Swarm(st.Path); ok {
			swarms[i] = &s
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := make(map[string]bool, len(streams))
	for i, st := range streams {
		seen[st.Path] = true
		h := d.streams[st.Path]
		if h == nil {
			h = newHistory(d.cfg.Keep, d.cfg.Window)
			d.streams[st.Path] = h
		}
		h.add(now, st, swarms[i])
	}
	for path := range d.streams {
		if !seen[path] {
			delete(d.streams, path)
		}
	}
}

// paths are the streams with a history, sorted.
func (d *Dashboard) pathsLocked() []string {
	paths := make([]string, 0, len(d.streams))
	for p := range d.streams {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}
