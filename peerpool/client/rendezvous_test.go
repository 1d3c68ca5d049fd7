package client

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// rendezvousCase is one input for test/rendezvous_check.js with Go's
// hashes and choice.
type rendezvousCase struct {
	Self   wire.PeerID   `json:"self"`
	Peers  []wire.PeerID `json:"peers"` // active neighbours
	Part   wire.PartID   `json:"part"`
	Hashes []string      `json:"hashes"` // Rendezvous of self, then of each peer, as 16 hex digits
	Pick   wire.PeerID   `json:"pick"`
}

// TestJSRendezvousAgreesWithGo: in a swarm the server does not seed, the
// browser client and the Go viewer must choose the same neighbour to fetch
// a part over HTTP, or two fetch it or none does. The browser's choice
// (Swarm.designatedFetcher, with the same active neighbours) and its hashes
// must be Go's (wire.Rendezvous and RendezvousPick, which the Go viewer
// uses).
func TestJSRendezvousAgreesWithGo(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: run `make deps`")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	id := func() wire.PeerID { return wire.PeerID(fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())) }
	renditions := []string{"source", "720p", "480p", "360p", "a", "r0123456789abcdefghijklmnopqrstu"}
	var cases []rendezvousCase
	for n := range 400 {
		c := rendezvousCase{Self: id(), Part: wire.PartID{Rendition: renditions[n%len(renditions)]}}
		switch n % 4 {
		case 0: // the parts of one segment, which differ in their last digits
			c.Part.MSN, c.Part.Index = 1764000000, n%(wire.MaxPartIndex+1)
		case 1:
			c.Part.MSN, c.Part.Index = 1<<53-1, wire.MaxPartIndex
		default:
			c.Part.MSN, c.Part.Index = rng.Uint64N(1<<53), rng.IntN(wire.MaxPartIndex+1)
		}
		for range n % 13 {
			c.Peers = append(c.Peers, id())
		}
		if n%50 == 7 && len(c.Peers) > 0 { // a repeated id ties with itself
			c.Peers = append(c.Peers, c.Peers[0])
		}
		all := append([]wire.PeerID{c.Self}, c.Peers...)
		for _, p := range all {
			c.Hashes = append(c.Hashes, fmt.Sprintf("%016x", wire.Rendezvous(p, c.Part)))
		}
		c.Pick = wire.RendezvousPick(c.Part, all)
		cases = append(cases, c)
	}
	runNodeCheck(t, node, "test/rendezvous_check.js", cases)
}
