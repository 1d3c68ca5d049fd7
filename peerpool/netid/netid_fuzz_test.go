package netid

import (
	"net/http"
	"net/netip"
	"testing"
)

// FuzzOf: whatever a client puts in its address and X-Forwarded-For, the
// network is unknown or a whole IPv4 address or IPv6 /64, and a client not
// behind a loopback proxy cannot choose it with the header.
func FuzzOf(f *testing.F) {
	f.Add("127.0.0.1:5000", "10.0.0.1, 203.0.113.9")
	f.Add("[::1]:5000", "2001:db8::1%eth0")
	f.Add("198.51.100.7:5000", "127.0.0.1")
	f.Add("[::ffff:127.0.0.1]:1", "::ffff:198.51.100.7,")
	f.Add("garbage", ",,,")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Set("X-Forwarded-For", xff)
		n := Of(r)
		if !n.IsValid() {
			return
		}
		if n.Masked() != n || (n.Addr().Is4() && n.Bits() != 32) || (n.Addr().Is6() && n.Bits() != 64) || n.Addr().Zone() != "" {
			t.Fatalf("network %s from %q %q", n, remote, xff)
		}
		if ap, err := netip.ParseAddrPort(remote); err == nil && !ap.Addr().Unmap().IsLoopback() && n != OfAddr(ap.Addr()) {
			t.Fatalf("client %q chose network %s with X-Forwarded-For %q", remote, n, xff)
		}
	})
}
