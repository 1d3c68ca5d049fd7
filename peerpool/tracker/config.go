// Package tracker decides the shape of one stream's peer mesh: who is
// neighbour of whom and which links are worth replacing. It ranks seed
// candidates (Ranked), but the server picks the seeds and how many
// (SetSeeds): only it knows which viewers its seeders reach. It is pure
// logic: no networking, no goroutines. The signaling layer turns the returned Changes into messages
// and the pion peers act on them.
//
// One Swarm serves one stream across all of its renditions: a viewer that
// switches rendition keeps its neighbours, and Rebalance then trades its
// links to viewers of other renditions for links to viewers of its own
// (Config.SameRendition), since only those hold parts it needs.
//
// A Swarm is safe for concurrent use: every method takes an internal mutex.
// Each method is one short critical section; Join and Leave cost O(1) in the
// swarm size (bounded sampling of indexed candidate sets), Rebalance costs
// O(N) and Ranked O(uploaders × n).
//
// Units: upload rates and caps are bytes per second.
package tracker

import (
	"math/rand/v2"
	"time"
)

// Config holds a Swarm's settings. Zero fields take the defaults noted.
type Config struct {
	// MaxNeighbours bounds every peer's degree (one WebRTC connection per
	// neighbour; the server's seeding connection is not counted). Default 6.
	MaxNeighbours int
	// MinNeighbours is the degree below which the tracker refills a peer
	// as soon as it can. Default 3.
	MinNeighbours int
	// JoinNeighbours is the degree a newcomer (or a refilled peer) is
	// given; the headroom up to MaxNeighbours lets later peers attach
	// without rewiring. Default max(Min, (Min+Max)/2).
	JoinNeighbours int

	// SeedHysteresis: Ranked multiplies a sitting seed's score by this
	// factor, so a challenger displaces it only by scoring that much
	// better and the server's picks do not flap between near equals.
	// Default 1.5.
	SeedHysteresis float64

	// UploadTau is the time constant of the upload-rate EWMA. Default 20s.
	UploadTau time.Duration
	// FailureHalfLife is the half-life of reported failures. Default 60s.
	FailureHalfLife time.Duration
	// AssumedUploadBps (bytes/s) stands for an uploader that declared no
	// cap and has not been measured above it. Default 250000 (2 Mbit/s).
	AssumedUploadBps int64

	// UploadWeight converts upload into hops when ranking neighbour
	// candidates: cost = depth + UploadWeight*clamp(log2(mean/upload),-2,2).
	// Default 1 (twice the mean upload is worth one hop).
	UploadWeight float64
	// SlowFraction: a measured uploader whose rate is below SlowFraction of
	// the swarm's mean measured rate is slow. Default 0.25.
	SlowFraction float64
	// DepthSlack: Rebalance moves a peer closer to the server only when it
	// gains at least this many hops. Default 2.
	DepthSlack int
	// PromoteFactor: Rebalance swaps a high-upload deep peer with a
	// shallow peer's neighbour whose upload is this many times lower.
	// Default 2.
	PromoteFactor float64
	// MaxRebalanceOps bounds the rewiring operations per Rebalance call
	// (each touches at most four peers). Default 4, or one per
	// peersPerRebalanceOp peers when that is more: a mesh that a flash
	// crowd built deep is otherwise reshaped a few links per tick, which
	// for hundreds of viewers takes minutes.
	MaxRebalanceOps int
	// SameRendition: while a peer has fewer than this many neighbours
	// playing its rendition, Rebalance swaps its neighbours on other
	// renditions for uploaders on its own (parts are per rendition: a
	// neighbour on another one has nothing it needs). Default
	// MinNeighbours.
	SameRendition int
	// RebalanceSample is how many random peers one Rebalance examines.
	// Default 64, or samplePerRebalanceOp per operation when that is more.
	RebalanceSample int
	// MinEdgeAge: Rebalance never removes a link younger than this.
	// Default 15s.
	MinEdgeAge time.Duration

	// BanCap bounds remembered bans; the oldest is forgotten first.
	// Default 10000.
	BanCap int

	// Now is the clock (default time.Now). Rand drives every random
	// choice (default seeded from the clock); pass a seeded one for
	// deterministic tests.
	Now  func() time.Time
	Rand *rand.Rand

	// The defaults of MaxRebalanceOps and RebalanceSample grow with the
	// swarm; values set by the caller do not.
	rebalanceGrows, sampleGrows bool
}

// With the defaults, Rebalance may make one operation per
// peersPerRebalanceOp peers and examines samplePerRebalanceOp peers per
// operation.
const (
	peersPerRebalanceOp  = 20
	samplePerRebalanceOp = 8
)

func (c Config) withDefaults() Config {
	if c.MaxNeighbours <= 0 {
		c.MaxNeighbours = 6
	}
	if c.MinNeighbours <= 0 {
		c.MinNeighbours = 3
	}
	if c.MinNeighbours > c.MaxNeighbours {
		c.MinNeighbours = c.MaxNeighbours
	}
	if c.JoinNeighbours <= 0 {
		c.JoinNeighbours = max(c.MinNeighbours, (c.MinNeighbours+c.MaxNeighbours)/2)
	}
	c.JoinNeighbours = min(max(c.JoinNeighbours, c.MinNeighbours), c.MaxNeighbours)
	if c.SeedHysteresis < 1 {
		c.SeedHysteresis = 1.5
	}
	if c.UploadTau <= 0 {
		c.UploadTau = 20 * time.Second
	}
	if c.FailureHalfLife <= 0 {
		c.FailureHalfLife = 60 * time.Second
	}
	if c.AssumedUploadBps <= 0 {
		c.AssumedUploadBps = 250_000
	}
	if c.UploadWeight <= 0 {
		c.UploadWeight = 1
	}
	if c.SlowFraction <= 0 || c.SlowFraction >= 1 {
		c.SlowFraction = 0.25
	}
	if c.DepthSlack <= 0 {
		c.DepthSlack = 2
	}
	if c.PromoteFactor <= 1 {
		c.PromoteFactor = 2
	}
	if c.MaxRebalanceOps <= 0 {
		c.MaxRebalanceOps, c.rebalanceGrows = 4, true
	}
	if c.SameRendition <= 0 {
		c.SameRendition = c.MinNeighbours
	}
	if c.RebalanceSample <= 0 {
		c.RebalanceSample, c.sampleGrows = 64, true
	}
	if c.MinEdgeAge <= 0 {
		c.MinEdgeAge = 15 * time.Second
	}
	if c.BanCap <= 0 {
		c.BanCap = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		t := uint64(time.Now().UnixNano())
		c.Rand = rand.New(rand.NewPCG(t, t^0x9e3779b97f4a7c15))
	}
	return c
}
