package exchange

import "github.com/swarmtx/swarmtx/peerpool/wire"

// Output is an action the Machine asks its driver to take (Poll).
type Output interface{ output() }

// Connect asks for a WebRTC connection to a new neighbour. Offerer tells
// which side sends the offer: the seed always, else the smaller id.
type Connect struct {
	Peer     wire.PeerID
	Seed     bool
	NoUpload bool
	Offerer  bool
}

// Disconnect asks to close the connection to a neighbour. The Machine has
// forgotten it already; a Disconnect for a neighbour already gone is
// harmless.
type Disconnect struct {
	Peer   wire.PeerID
	Reason string
}

// Report asks to tell the server about a neighbour (wire.ReasonHashMismatch,
// wire.ReasonProtocol or wire.ReasonTimeout).
type Report struct {
	Peer   wire.PeerID
	Reason string
}

// Deliver hands over a part received from a neighbour and verified. Data
// is shared and read-only.
type Deliver struct {
	Part wire.PartID
	Data []byte
	From wire.PeerID
}

// Fetched ends a Want: Data is the part, or nil when the Machine closed.
type Fetched struct {
	Part wire.PartID
	Data []byte
}

// Wake tells that a neighbour may have a frame to send: call Transmit.
type Wake struct {
	Peer wire.PeerID
}

func (Connect) output()    {}
func (Disconnect) output() {}
func (Report) output()     {}
func (Deliver) output()    {}
func (Fetched) output()    {}
func (Wake) output()       {}
