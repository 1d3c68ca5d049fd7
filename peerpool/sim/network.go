package sim

import (
	"math/rand/v2"
	"time"
)

// network is the model of the links between peers and the server: a path's
// latency is its two ends' access latencies plus a core, each frame may be
// held up by jitter, and some pairs never connect (NATs neither side can
// traverse without a relay).
type network struct {
	cfg  Config
	rand *rand.Rand
	salt uint64
}

func newNetwork(cfg Config, r *rand.Rand) *network {
	return &network{cfg: cfg, rand: r, salt: r.Uint64()}
}

// accessLatency draws a peer's own share of every path's latency.
func (w *network) accessLatency() time.Duration {
	return time.Duration(w.rand.Int64N(int64(w.cfg.Latency/2) + 1))
}

func (w *network) core() time.Duration { return w.cfg.Latency / 4 }

// path is the one-way latency between two peers.
func (w *network) path(a, b *node) time.Duration { return a.access + b.access + w.core() }

// toServer is the one-way latency between a peer and the server.
func (w *network) toServer(n *node) time.Duration { return n.access + w.core() }

// jitter is the extra delay of one frame.
func (w *network) jitter() time.Duration {
	if w.cfg.Jitter <= 0 {
		return 0
	}
	return time.Duration(w.rand.Int64N(int64(w.cfg.Jitter) + 1))
}

// blocked reports whether the pair can never open a connection. It is a
// property of the pair, the same whenever they are paired again.
func (w *network) blocked(a, b *node) bool {
	if w.cfg.NAT <= 0 || a.seeder || b.seeder {
		return false
	}
	x, y := uint64(a.idx), uint64(b.idx)
	if x > y {
		x, y = y, x
	}
	h := mix64(w.salt ^ x*0x9e3779b97f4a7c15 ^ y*0xc2b2ae3d27d4eb4f)
	return float64(h>>11)/(1<<53) < w.cfg.NAT
}

// connectTime is how long a data channel takes to open once both sides
// want it: the offer and answer cross the server, then ICE, DTLS and SCTP
// take about four round trips between the two.
func (w *network) connectTime(a, b *node) time.Duration {
	signaling := w.toServer(a) + w.toServer(b)
	return 2*signaling + 8*w.path(a, b)
}

// mix64 scrambles a word so that neighbouring inputs give unrelated
// outputs: a pair's NAT verdict must not follow from its ids' order.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
