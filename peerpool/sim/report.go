package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Report is what a run measured. Copies are bytes divided by the bytes of
// the rendition cut during the run: one copy is what one viewer watching
// the whole run over HTTP costs.
type Report struct {
	Peers    int           // viewers at once
	Joined   int           // viewers that ever joined (churn adds newcomers)
	Duration time.Duration // virtual time simulated
	Seed     uint64

	Parts      int
	MediaBytes int64 // the rendition's bytes cut: one copy

	SeedBytes int64 // pushed by the server's seeder
	HTTPBytes int64 // fetched over HTTP by every viewer
	// StartupHTTPBytes are the HTTPBytes a viewer fetched before it began
	// to play: its first parts, which it takes over HTTP at once, before
	// any neighbour is connected. Every join costs them, so in a short run
	// with a whole crowd joining they are most of the HTTP bytes.
	StartupHTTPBytes int64
	// Fallbacks count why playing viewers took parts over HTTP after
	// waiting for the swarm, as the Go viewer counts them.
	Fallbacks      Fallbacks
	SignalOutBytes int64 // signaling the server sent: welcome, peers, announcements, relayed offers
	SignalInBytes  int64 // stats and reports the server received

	SeedCopies float64
	HTTPCopies float64
	// PlayingCopies are the media copies without the startup fetches: what
	// the server sends for viewers that are already watching.
	PlayingCopies float64
	ServerCopies  float64 // media: seeding plus HTTP
	TotalCopies   float64 // all the server's egress, signaling included

	P2PShare       float64 // honest viewers' part bytes from peers
	StallRatio     float64 // honest viewers' stall time over their watch time
	Viewers        int     // honest viewers that played
	ViewersStalled int
	Stalls         int

	// Deadline is the shortest time from a part's cut to its play time a
	// viewer has (one that joined just as a segment began, with no stall):
	// most have longer, as they start at a segment's independent part.
	Deadline    time.Duration
	DeliveryP50 time.Duration // from cut to held, honest viewers
	DeliveryP95 time.Duration
	OnTime      float64       // share of deliveries before the viewer's playhead needed them
	LagP50      time.Duration // honest viewers' live lag at leave or the end: a part's media start to its play time
	StartupP50  time.Duration // honest viewers' time from joining to playing

	DepthP50, DepthMax int // hops from the server each part took
	Seeds              int // the seed count at the end

	Hostile       int
	HostileBanned int
	HonestBanned  int

	// Series is the server's egress through the run, one Sample per
	// SampleEvery of virtual time, for plotting it through joins and churn.
	Series []Sample

	Events int64         // events processed
	Wall   time.Duration // real time the run took
}

// Fallbacks count the parts a playing viewer waited for and then fetched
// over HTTP, by what the swarm was doing at the deadline: a transfer was
// still under way, neighbours had the part but did not deliver it (busy,
// stalled), or no neighbour had it.
type Fallbacks struct {
	InFlight, Declined, NoHolder int
}

// Sample is what the server sent in one interval of the run, the one that
// ends At, and the viewers present then.
type Sample struct {
	At                                   time.Duration
	Viewers                              int
	SeedBytes, HTTPBytes, SignalOutBytes int64
}

// tally is what the run counts as it goes.
type tally struct {
	mediaBytes, httpBytes, signalOut, signalIn int64
	startupHTTPBytes                           int64
	fallbacks                                  Fallbacks
	parts                                      int
	watched, stalled                           time.Duration
	stalls, viewersWatched, viewersStalled     int
	honestHTTP, honestP2P                      int64
	delivery, depth, lag, startup              histogram
	deliveries, onTime                         int64
	series                                     []Sample
	sampled                                    Sample // the totals at the last sample

	HostileBanned, HonestBanned int
}

// histogram counts small non-negative integers: milliseconds, hops.
type histogram struct {
	counts []int64
	total  int64
}

// histogramCap bounds a histogram's buckets; larger values count in the last.
const histogramCap = 60_000

func (h *histogram) add(v int) {
	v = min(max(v, 0), histogramCap)
	if v >= len(h.counts) {
		h.counts = append(h.counts, make([]int64, v+1-len(h.counts))...)
	}
	h.counts[v]++
	h.total++
}

// quantile is the smallest bucket at or below which q of the counts lie.
func (h *histogram) quantile(q float64) int {
	if h.total == 0 {
		return 0
	}
	want := int64(q * float64(h.total))
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen > want || seen == h.total {
			return i
		}
	}
	return len(h.counts) - 1
}

// atMost is the share of counts at or below bucket b.
func (h *histogram) atMost(b int) float64 {
	if h.total == 0 {
		return 0
	}
	var seen int64
	for i := 0; i <= b && i < len(h.counts); i++ {
		seen += h.counts[i]
	}
	return float64(seen) / float64(h.total)
}

func (h *histogram) maxBucket() int {
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i] > 0 {
			return i
		}
	}
	return 0
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"peers", fmt.Sprintf("%d at once, %d joined in all, %d hostile", r.Peers, r.Joined, r.Hostile)},
		{"simulated", fmt.Sprintf("%v, %d parts (seed %d)", r.Duration, r.Parts, r.Seed)},
		{"server copies (media)", fmt.Sprintf("%.2f  (seeding %.2f + HTTP %.2f; %d seeds at the end)", r.ServerCopies, r.SeedCopies, r.HTTPCopies, r.Seeds)},
		{"  without startups", fmt.Sprintf("%.2f  (HTTP %.2f of the copies are viewers' first parts, before they play)", r.PlayingCopies, ratio(float64(r.StartupHTTPBytes), float64(r.MediaBytes)))},
		{"parts to HTTP after waiting", fmt.Sprintf("%d still arriving, %d held by neighbours but not sent, %d held by none", r.Fallbacks.InFlight, r.Fallbacks.Declined, r.Fallbacks.NoHolder)},
		{"server copies (all egress)", fmt.Sprintf("%.2f  (signaling out %s, in %s)", r.TotalCopies, bytesString(r.SignalOutBytes), bytesString(r.SignalInBytes))},
		{"P2P share", fmt.Sprintf("%.1f%%", 100*r.P2PShare)},
		{"stall ratio", fmt.Sprintf("%.4f%%  (%d stalls, %d of %d viewers stalled)", 100*r.StallRatio, r.Stalls, r.ViewersStalled, r.Viewers)},
		{"part delivery", fmt.Sprintf("p50 %v, p95 %v, %.1f%% before the playhead needed them (the shortest deadline %v)", r.DeliveryP50, r.DeliveryP95, 100*r.OnTime, r.Deadline)},
		{"live lag", fmt.Sprintf("p50 %v", r.LagP50)},
		{"startup", fmt.Sprintf("p50 %v from joining to playing", r.StartupP50)},
		{"mesh depth (hops)", fmt.Sprintf("p50 %d, max %d", r.DepthP50, r.DepthMax)},
		{"banned", fmt.Sprintf("%d of %d hostile, %d honest", r.HostileBanned, r.Hostile, r.HonestBanned)},
		{"wall time", fmt.Sprintf("%v (%d events)", r.Wall.Round(time.Millisecond), r.Events)},
	}
	for _, row := range rows {
		if _, err := fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1]); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

func bytesString(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
}
