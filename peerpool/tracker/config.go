// Package tracker decides the shape of one stream's peer mesh: who is
// neighbour of whom, which peers the server seeds, how many seeds it feeds,
// and which links are worth replacing. It is pure logic: no networking, no
// goroutines. The signaling layer turns the returned Changes into messages
// and the pion peers act on them.
//
// One Swarm serves one stream across all of its renditions: a viewer that
// switches rendition keeps its neighbours, and Rebalance then trades its
// links to viewers of other renditions for links to viewers of its own
// (Config.SameRendition), since only those hold parts it needs.
//
// A Swarm is safe for concurrent use: every method takes an internal mutex.
// Each method is one short critical section; Join and Leave cost O(1) in the
// swarm size (bounded sampling of indexed candidate sets), Rebalance and a
// periodic seed refresh cost O(N).
//
// Units: upload rates and caps are bytes per second; FanOut takes a media
// bitrate in bits per second (as in HLS BANDWIDTH).
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

	// MinSeeds and MaxSeeds clamp FanOut. Defaults 2 and 8.
	MinSeeds, MaxSeeds int
	// SeedRefresh is how often the seed set is re-ranked from scratch
	// (between refreshes it only changes when a seed leaves or the
	// requested count changes). Default 10s.
	SeedRefresh time.Duration
	// SeedHysteresis: at a refresh a sitting seed keeps its place unless a
	// challenger's score exceeds the seed's by this factor. Default 1.5.
	SeedHysteresis float64

	// UploadTau is the time constant of the upload-rate EWMA. Default 20s.
	UploadTau time.Duration
	// FailureHalfLife is the half-life of reported failures. Default 60s.
	FailureHalfLife time.Duration
	// AssumedUploadBps (bytes/s) stands for an uploader that declared no
	// cap and has not been measured above it. Default 250000 (2 Mbit/s).
	AssumedUploadBps int64
	// UploadEfficiency is the share of the swarm's upload capacity FanOut
	// counts as usable (topology, overlap, back-pressure). Default 0.7.
	UploadEfficiency float64

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
	// (each touches at most four peers). Default 4.
	MaxRebalanceOps int
	// SameRendition: while a peer has fewer than this many neighbours
	// playing its rendition, Rebalance swaps its neighbours on other
	// renditions for uploaders on its own (parts are per rendition: a
	// neighbour on another one has nothing it needs). Default
	// MinNeighbours.
	SameRendition int
	// RebalanceSample is how many random peers one Rebalance examines.
	// Default 64.
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
}

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
	if c.MinSeeds <= 0 {
		c.MinSeeds = 2
	}
	if c.MaxSeeds <= 0 {
		c.MaxSeeds = 8
	}
	if c.MaxSeeds < c.MinSeeds {
		c.MaxSeeds = c.MinSeeds
	}
	if c.SeedRefresh <= 0 {
		c.SeedRefresh = 10 * time.Second
	}
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
	if c.UploadEfficiency <= 0 || c.UploadEfficiency > 1 {
		c.UploadEfficiency = 0.7
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
		c.MaxRebalanceOps = 4
	}
	if c.SameRendition <= 0 {
		c.SameRendition = c.MinNeighbours
	}
	if c.RebalanceSample <= 0 {
		c.RebalanceSample = 64
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
