// Package netid names the network a viewer comes from, the unit that
// per-network limits and bans apply to: an IPv4 address, or an IPv6 /64
// (one host can hold a whole /64, so counting its addresses one by one
// would let it multiply itself).
package netid

import (
	"net/http"
	"net/netip"
	"strings"
)

// Of returns the network of the viewer that sent r. The address is the
// connection's peer or, when that is loopback (a reverse proxy on this
// host), the last X-Forwarded-For entry the proxy added: entries before it
// were written by the client and prove nothing. The zero Prefix means
// unknown.
func Of(r *http.Request) netip.Prefix {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	addr := ap.Addr().Unmap()
	if addr.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			entries := strings.Split(xff[len(xff)-1], ",")
			if a, err := netip.ParseAddr(strings.TrimSpace(entries[len(entries)-1])); err == nil {
				addr = a.Unmap()
			}
		}
	}
	return OfAddr(addr)
}

// OfAddr returns the network addr belongs to: the address itself for IPv4,
// its /64 for IPv6. The zero Prefix when addr is not valid.
func OfAddr(addr netip.Addr) netip.Prefix {
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}
