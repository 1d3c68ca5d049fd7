package sim

import (
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/crowd"
)

// The live benchmark (BenchmarkSwarm in integration: 30 Go viewers on the
// real stack, over loopback) measured these with the current core
// (README's "Set-up" gives the runs): server copies of the rendition over
// 60 s of steady playback, and the viewers' P2P share over their whole
// watch. Where a form ran twice, the figure is the mean of the runs.
var liveForms = []struct {
	form      string
	mix       crowd.Mix
	copies    float64
	p2p       float64
	tolerance float64 // in copies, around copies
}{
	{"mix", crowd.DefaultMix, 1.18, 0.96, 0.6},
	{"2x", crowd.Mix{{Fraction: 1, Upload: 2}}, 1.14, 0.96, 0.6},
	{"1x", crowd.Mix{{Fraction: 1, Upload: 1}}, 6.38, 0.863, 1.0},
}

// The simulator, set up as that benchmark runs (loopback links, the 30
// viewers joining within 2 s, 5 s of startup left out, then 60 s
// measured), lands near the live figures of each form: the mean of eight
// seeds' server copies within the form's tolerance of the live run's, the
// mean P2P share within 5 points, and no seed stalling. A single live run
// is one draw; the seeds show the spread a live run can land in.
func TestThirtyViewersMatchTheLiveBenchmark(t *testing.T) {
	const (
		seeds    = 8
		joins    = 2 * time.Second
		startup  = 5 * time.Second
		measured = 60 * time.Second
	)
	for _, live := range liveForms {
		t.Run(live.form, func(t *testing.T) {
			var copies, p2p float64
			for seed := uint64(1); seed <= seeds; seed++ {
				cfg := Config{Peers: 30, Seed: seed, Mix: live.mix, Duration: joins + startup + measured, JoinWindow: joins,
					Latency: time.Millisecond, Jitter: time.Millisecond, SampleEvery: time.Second}
				r, err := Run(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				c := steadyCopies(r, cfg.withDefaults(), joins+startup)
				t.Logf("seed %d: %.2f server copies after startup, %.1f%% P2P, stall %.4f%%, lag %v, %d seeds at the end",
					seed, c, 100*r.P2PShare, 100*r.StallRatio, r.LagP50, r.Seeds)
				if r.Stalls > 0 {
					t.Errorf("seed %d: %d stalls; the live runs had none", seed, r.Stalls)
				}
				copies += c
				p2p += r.P2PShare
			}
			copies /= seeds
			p2p /= seeds
			t.Logf("mean of %d seeds: %.2f server copies (live %.2f), %.1f%% P2P (live %.0f%%)", seeds, copies, live.copies, 100*p2p, 100*live.p2p)
			if copies < live.copies-live.tolerance || copies > live.copies+live.tolerance {
				t.Errorf("mean %.2f server copies, want %.2f ± %.1f as live", copies, live.copies, live.tolerance)
			}
			if p2p < live.p2p-0.05 || p2p > live.p2p+0.05 {
				t.Errorf("mean P2P %.1f%%, want %.0f%% ± 5 as live", 100*p2p, 100*live.p2p)
			}
		})
	}
}

// steadyCopies is the server's media (seeding and HTTP) from the samples
// after from, over the rendition's bytes in that time.
func steadyCopies(r Report, cfg Config, from time.Duration) float64 {
	var sent int64
	var span time.Duration
	prev := time.Duration(0)
	for _, x := range r.Series {
		if prev >= from {
			sent += x.SeedBytes + x.HTTPBytes
			span += x.At - prev
		}
		prev = x.At
	}
	media := float64(cfg.BitrateBps) / 8 * span.Seconds()
	return ratio(float64(sent), media)
}

// The series covers the run in SampleEvery steps and adds up to the
// report's totals.
func TestSeriesAddsUpToTheTotals(t *testing.T) {
	r := run(t, Config{Peers: 20, Duration: 22 * time.Second, Seed: 2, ChurnPerMinute: 0.2, SampleEvery: 5 * time.Second})
	var at []time.Duration
	var seed, http, signal int64
	for _, x := range r.Series {
		at = append(at, x.At)
		seed += x.SeedBytes
		http += x.HTTPBytes
		signal += x.SignalOutBytes
		if x.Viewers != 20 {
			t.Errorf("%d viewers at %v, want 20 (churn replaces them)", x.Viewers, x.At)
		}
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 22 * time.Second}
	if len(at) != len(want) {
		t.Fatalf("samples at %v, want %v", at, want)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("samples at %v, want %v", at, want)
		}
	}
	if seed != r.SeedBytes || http != r.HTTPBytes || signal != r.SignalOutBytes {
		t.Errorf("series sums seed %d, HTTP %d, signaling %d; report %d, %d, %d", seed, http, signal, r.SeedBytes, r.HTTPBytes, r.SignalOutBytes)
	}
}
