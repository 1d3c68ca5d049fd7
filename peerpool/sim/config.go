package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Config describes one simulated run. Zero fields take the defaults
// noted; Validate says what is wrong with the rest.
type Config struct {
	// Peers is how many viewers watch at once (churn replaces them).
	Peers int
	// Duration is the virtual time simulated. Default 60 s.
	Duration time.Duration
	// Seed names the run: the same seed gives the same report.
	Seed uint64

	// PartDuration is how often the origin cuts a part. Default 500 ms.
	PartDuration time.Duration
	// BitrateBps is the rendition's bit rate in bits per second. Default
	// 1 Mbit/s.
	BitrateBps int64
	// Rendition names the one rendition watched. Default "source".
	Rendition string

	// Mix is how the viewers' upload caps are spread, in multiples of the
	// bit rate. Default crowd.DefaultMix.
	Mix crowd.Mix

	// Latency is the one-way latency between two peers, or a peer and the
	// server: each peer's access latency is drawn from 0..Latency/2 and a
	// path adds both ends' and a core of Latency/4. Default 40 ms.
	Latency time.Duration
	// Jitter is the most a frame is delayed beyond its path's latency
	// (frames on one data channel still arrive in order). Default 10 ms.
	Jitter time.Duration
	// NAT is the share of peer pairs that cannot open a connection to
	// each other, 0..1. The server's seeders reach everyone.
	NAT float64
	// DownloadBps is each viewer's download rate in bits per second, for
	// the time an HTTP fetch takes. Default 20 Mbit/s.
	DownloadBps int64

	// JoinWindow is the time over which the viewers first join. Default
	// 5 s for a flash crowd, half of Duration for steady joins.
	JoinWindow time.Duration
	// Steady spaces the joins evenly over JoinWindow; otherwise each
	// viewer joins at a random moment of it (a flash crowd).
	Steady bool
	// ChurnPerMinute is the share of the viewers, 0..1, that leave and are
	// replaced by newcomers each minute.
	ChurnPerMinute float64

	// Hostile is the share of the viewers, 0..1, that corrupt every DATA
	// frame they send.
	Hostile float64

	// HoldBack is how many parts behind the live edge a viewer starts (as
	// LL-HLS's PART-HOLD-BACK), before it rewinds to the independent part
	// that begins their segment, and how many it holds before it plays.
	// Default 3, as the Go viewer's StartupParts.
	HoldBack int
	// PeerWait is how long a viewer waits for a part from its neighbours
	// before it fetches it over HTTP, at most until HTTPMargin before the
	// playhead needs it. Default: as long as that allows, as the viewers
	// of swarmtx crowd and of the benchmark wait.
	PeerWait time.Duration
	// HTTPMargin is kept before the playhead for an HTTP fetch. Default
	// 150 ms.
	HTTPMargin time.Duration
	// StartupWait is how long after joining a viewer waits for its first
	// parts from the swarm (which holds them all already) before fetching
	// them over HTTP; its start is that much later at most. Default 0: it
	// fetches them over HTTP at once, as the Go viewer does.
	StartupWait time.Duration

	// SeedsMin and SeedsMax bound the server's seed count per rendition.
	// Defaults as the hub's: 1, and 8 or one per 16 viewers when that is
	// more (signal.Config.MaxSeedsPerRendition).
	SeedsMin, SeedsMax int
	// TickEvery is how often the server credits uploads, rebalances and
	// re-picks seeds. Default 2 s, as the hub's.
	TickEvery time.Duration
	// StatsEvery is how often each viewer reports its stats. Default 2 s,
	// as the viewer's.
	StatsEvery time.Duration
	// StoreParts bounds the parts each viewer keeps to pass on. Default
	// 12 (the Go viewer keeps 64): parts older than a viewer's lag are
	// seldom asked for, 30 viewers with the mix come out the same with 64
	// (TestThirtyViewersMatchTheLiveBenchmark), and every
	// viewer holds its own copies, so 64 would not fit 100,000 viewers in
	// memory.
	StoreParts int

	// SampleEvery is the interval of Report.Series. Default 5 s.
	SampleEvery time.Duration

	// Logger is told the virtual time reached every ProgressEvery; nil
	// logs nothing.
	Logger        *slog.Logger
	ProgressEvery time.Duration // default 10 s of virtual time
}

// Defaults of the model's world, as the production viewer and hub use
// them where they have one.
const (
	defaultDuration   = 60 * time.Second
	defaultPart       = 500 * time.Millisecond
	defaultBitrate    = 1_000_000
	defaultLatency    = 40 * time.Millisecond
	defaultJitter     = 10 * time.Millisecond
	defaultDownload   = 20_000_000
	defaultFlashJoins = 5 * time.Second
	defaultHoldBack   = 3
	defaultHTTPMargin = 150 * time.Millisecond
	defaultTick       = 2 * time.Second
	defaultStatsEvery = 2 * time.Second
	defaultStoreParts = 12
)

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Duration == 0 {
		c.Duration = defaultDuration
	}
	if c.PartDuration == 0 {
		c.PartDuration = defaultPart
	}
	if c.BitrateBps == 0 {
		c.BitrateBps = defaultBitrate
	}
	if c.Rendition == "" {
		c.Rendition = "source"
	}
	if c.Mix == nil {
		c.Mix = crowd.DefaultMix
	}
	if c.Latency == 0 {
		c.Latency = defaultLatency
	}
	if c.Jitter == 0 {
		c.Jitter = defaultJitter
	}
	if c.DownloadBps == 0 {
		c.DownloadBps = defaultDownload
	}
	if c.JoinWindow == 0 {
		c.JoinWindow = defaultFlashJoins
		if c.Steady {
			c.JoinWindow = c.Duration / 2
		}
	}
	if c.HoldBack == 0 {
		c.HoldBack = defaultHoldBack
	}
	if c.PeerWait == 0 {
		c.PeerWait = time.Minute
	}
	if c.HTTPMargin == 0 {
		c.HTTPMargin = defaultHTTPMargin
	}
	if c.SeedsMin == 0 {
		c.SeedsMin = 1
	}
	if c.TickEvery == 0 {
		c.TickEvery = defaultTick
	}
	if c.StatsEvery == 0 {
		c.StatsEvery = defaultStatsEvery
	}
	if c.StoreParts == 0 {
		c.StoreParts = defaultStoreParts
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = 5 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 10 * time.Second
	}
	return c
}

// Validate reports the first setting a run cannot use, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	share := func(name string, f float64) error {
		if f < 0 || f > 1 {
			return fmt.Errorf("%s %g is not a share in 0..1", name, f)
		}
		return nil
	}
	switch {
	case c.Peers < 1:
		return fmt.Errorf("peers %d: at least one viewer is needed", c.Peers)
	case c.Duration < 0 || c.PartDuration < time.Millisecond:
		return fmt.Errorf("duration %v and part duration %v must be positive", c.Duration, c.PartDuration)
	case c.BitrateBps < 8_000 || c.BitrateBps > 1_000_000_000:
		return fmt.Errorf("bit rate %d bit/s is outside 8 kbit/s..1 Gbit/s", c.BitrateBps)
	case c.PartDuration > time.Minute:
		return fmt.Errorf("part duration %v is above a minute", c.PartDuration)
	case c.partBytes() > wire.MaxPartSize:
		return fmt.Errorf("a part of %v at %d bit/s is %d bytes, above the protocol's %d", c.PartDuration, c.BitrateBps, c.partBytes(), wire.MaxPartSize)
	case c.Latency < 0 || c.Jitter < 0 || c.HTTPMargin < 0 || c.JoinWindow < 0 || c.StartupWait < 0:
		return errors.New("latency, jitter, HTTP margin, join window and startup wait cannot be negative")
	case c.DownloadBps <= 0:
		return fmt.Errorf("download %d bit/s must be positive", c.DownloadBps)
	case c.HoldBack < 1:
		return fmt.Errorf("hold-back %d parts: at least one", c.HoldBack)
	case c.SeedsMin < 0 || c.SeedsMax < 0 || (c.SeedsMax > 0 && c.SeedsMax < c.SeedsMin):
		return fmt.Errorf("seeds %d..%d is not a range", c.SeedsMin, c.SeedsMax)
	case c.TickEvery <= 0 || c.StatsEvery <= 0 || c.PeerWait < 0 || c.StoreParts < 1:
		return errors.New("tick, stats interval and store must be positive")
	case len(c.Mix) == 0:
		return errors.New("upload mix is empty")
	}
	for _, err := range []error{share("nat", c.NAT), share("churn", c.ChurnPerMinute), share("hostile", c.Hostile)} {
		if err != nil {
			return err
		}
	}
	return nil
}

// partBytes is the size of one part at the bit rate.
func (c Config) partBytes() int {
	return int(c.BitrateBps * int64(c.PartDuration) / int64(time.Second) / 8)
}
