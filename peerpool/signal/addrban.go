package signal

import (
	"net/netip"
	"time"
)

// A banned viewer can come back with a new session and a new PeerID, so a
// ban also marks the network it came from. Viewers joining from there
// during Config.AddressBanFor may only receive: the tracker never places
// them upstream and their neighbours are told never to ask them for parts
// (wire.PeerInfo.NoUpload). They still play and still take parts from
// peers, so honest viewers behind the same NAT lose only their upload.
// The network is netid.Of's: an IPv4 address or an IPv6 /64, seen through
// a reverse proxy on loopback; the zero Prefix (unknown) is never banned.

// maxAddressBans bounds the banned networks remembered per stream.
const maxAddressBans = 4096

// addressBans is the set of banned networks with their expiry. Not safe
// for concurrent use (the hub's mutex guards it).
type addressBans map[netip.Prefix]time.Time

// ban marks network until now+d.
func (b addressBans) ban(network netip.Prefix, now time.Time, d time.Duration) {
	if !network.IsValid() || network.Addr().IsLoopback() || d <= 0 {
		return
	}
	if len(b) >= maxAddressBans {
		b.sweep(now)
	}
	if len(b) >= maxAddressBans {
		for n := range b { // all still current: forget one at random
			delete(b, n)
			break
		}
	}
	b[network] = now.Add(d)
}

// banned reports whether network is under a ban at now.
func (b addressBans) banned(network netip.Prefix, now time.Time) bool {
	until, ok := b[network]
	if ok && !now.Before(until) {
		delete(b, network)
		return false
	}
	return ok
}

func (b addressBans) sweep(now time.Time) {
	for n, until := range b {
		if !now.Before(until) {
			delete(b, n)
		}
	}
}
