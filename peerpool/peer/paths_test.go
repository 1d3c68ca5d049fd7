package peer

import (
	"reflect"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Two peers on loopback connect host to host over UDP, and say so; a peer
// whose only neighbour never answers is unreachable once
// wire.UnreachableAfterMs has passed, and not before.
func TestPathsAndUnreachable(t *testing.T) {
	s := newSwarm(t)
	a := s.add("", Config{CanUpload: true})
	b := s.add("", Config{CanUpload: true})
	lonely := s.add("", Config{CanUpload: true})
	if lonely.Unreachable(time.Now().Add(time.Hour)) {
		t.Fatal("unreachable before any neighbour was offered")
	}
	s.link(a, b)
	lonely.SetNeighbours([]wire.PeerInfo{{ID: wire.NewPeerID()}}, nil) // nobody answers for it

	waitFor(t, func() bool { return len(a.Paths()) > 0 && len(b.Paths()) > 0 })
	want := []wire.Path{{Local: wire.CandidateHost, Remote: wire.CandidateHost, Protocol: wire.ProtocolUDP, Count: 1}}
	for _, p := range []*Peer{a, b} {
		if got := p.Paths(); !reflect.DeepEqual(got, want) {
			t.Errorf("paths %+v, want %+v", got, want)
		}
		if p.Unreachable(time.Now().Add(time.Hour)) {
			t.Error("a peer with an open channel says it is unreachable")
		}
	}
	if got := lonely.Paths(); got != nil {
		t.Errorf("paths with no channel open: %+v", got)
	}
	now := time.Now()
	if lonely.Unreachable(now) {
		t.Error("unreachable at once")
	}
	if !lonely.Unreachable(now.Add(wire.UnreachableAfterMs * time.Millisecond)) {
		t.Error("not unreachable after wire.UnreachableAfterMs")
	}
	if err := (&wire.Stats{Rendition: "source", LagMs: -1, Paths: a.Paths()}).Validate(); err != nil {
		t.Error(err)
	}
}
