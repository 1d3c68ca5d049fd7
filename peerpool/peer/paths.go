package peer

import (
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Paths counts the open data channels by the ICE candidate pair selected
// for each (wire.Stats.Paths): whether NAT traversal came to direct
// host or reflexive paths or to TURN relays. A connection whose pair is
// not known yet is left out.
func (p *Peer) Paths() []wire.Path {
	p.mu.Lock()
	pcs := make([]*webrtc.PeerConnection, 0, len(p.conns))
	for _, c := range p.conns {
		if c.dc != nil && !c.closed {
			pcs = append(pcs, c.pc)
		}
	}
	p.mu.Unlock()
	// pion takes its own locks here, and its callbacks take p.mu: asked
	// outside it.
	var paths []wire.Path
	for i, pc := range pcs {
		if i == wire.MaxListLen { // the most stats.paths counts
			break
		}
		path, ok := selectedPath(pc)
		if !ok {
			continue
		}
		paths = addPath(paths, path)
	}
	return paths
}

// Unreachable reports whether neighbours were offered and no data channel
// opened within wire.UnreachableAfterMs of the first offer, nor since.
func (p *Peer) Unreachable(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.opened && !p.offeredAt.IsZero() &&
		now.Sub(p.offeredAt) >= wire.UnreachableAfterMs*time.Millisecond
}

func selectedPath(pc *webrtc.PeerConnection) (wire.Path, bool) {
	sctp := pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return wire.Path{}, false
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return wire.Path{}, false
	}
	local, okL := candidateType(pair.Local.Typ)
	remote, okR := candidateType(pair.Remote.Typ)
	proto, okP := protocol(pair.Local.Protocol)
	if !okL || !okR || !okP {
		return wire.Path{}, false
	}
	return wire.Path{Local: local, Remote: remote, Protocol: proto, Count: 1}, true
}

// addPath counts one more connection of p's kind.
func addPath(paths []wire.Path, p wire.Path) []wire.Path {
	for i := range paths {
		if paths[i].Local == p.Local && paths[i].Remote == p.Remote && paths[i].Protocol == p.Protocol {
			paths[i].Count++
			return paths
		}
	}
	return append(paths, p)
}

func candidateType(t webrtc.ICECandidateType) (string, bool) {
	switch t {
	case webrtc.ICECandidateTypeHost:
		return wire.CandidateHost, true
	case webrtc.ICECandidateTypeSrflx:
		return wire.CandidateSrflx, true
	case webrtc.ICECandidateTypePrflx:
		return wire.CandidatePrflx, true
	case webrtc.ICECandidateTypeRelay:
		return wire.CandidateRelay, true
	}
	return "", false
}

func protocol(p webrtc.ICEProtocol) (string, bool) {
	switch p {
	case webrtc.ICEProtocolUDP:
		return wire.ProtocolUDP, true
	case webrtc.ICEProtocolTCP:
		return wire.ProtocolTCP, true
	}
	return "", false
}
