package stunturn

import (
	"net"

	"github.com/pion/turn/v5"
)

// countingPacketConn reports every datagram written.
type countingPacketConn struct {
	net.PacketConn
	socket string
	onSent func(socket string, n int)
}

func (c *countingPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, addr)
	if n > 0 {
		c.onSent(c.socket, n)
	}
	return n, err
}

// countingRelays hands out relay sockets that count what they send and hold
// their user to a byte quota.
type countingRelays struct {
	next   turn.RelayAddressGenerator
	users  *users
	quota  int64
	onSent func(socket string, n int)
}

func (r *countingRelays) Validate() error { return r.next.Validate() }

func (r *countingRelays) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	pc, addr, err := r.next.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	return &relayConn{countingPacketConn: countingPacketConn{PacketConn: pc, socket: SocketRelay, onSent: r.onSent},
		user: c.UserID, relays: r}, addr, nil
}

// TCP relaying (RFC 6062) is not offered: browsers never ask for it.
func (r *countingRelays) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (r *countingRelays) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// relayConn is one allocation's relay socket.
type relayConn struct {
	countingPacketConn
	user   string
	relays *countingRelays
}

// WriteTo carries a datagram from the user to its peer, while in quota.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.relays.users.relayed(c.user, len(p), c.relays.quota) {
		return len(p), nil // dropped, as a full link would
	}
	return c.countingPacketConn.WriteTo(p, addr)
}

// ReadFrom takes a datagram from a peer for the user; over quota, it is
// dropped before the server spends anything sending it on.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.relays.users.relayed(c.user, n, c.relays.quota) {
			return n, addr, err
		}
	}
}
