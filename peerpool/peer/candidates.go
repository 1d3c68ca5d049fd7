package peer

import (
	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// CandidateToWire is pion's ICE candidate as the signaling protocol
// carries it (a null sdpMid or sdpMLineIndex becomes "" or 0).
func CandidateToWire(init webrtc.ICECandidateInit) *wire.Candidate {
	wc := &wire.Candidate{Candidate: init.Candidate}
	if init.SDPMid != nil {
		wc.SDPMid = *init.SDPMid
	}
	if init.SDPMLineIndex != nil {
		wc.SDPMLineIndex = int(*init.SDPMLineIndex)
	}
	return wc
}

// CandidateFromWire is a relayed candidate as pion takes it.
func CandidateFromWire(c *wire.Candidate) webrtc.ICECandidateInit {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate}
	if c.SDPMid != "" {
		mid := c.SDPMid
		init.SDPMid = &mid
	}
	idx := uint16(c.SDPMLineIndex)
	init.SDPMLineIndex = &idx
	return init
}
