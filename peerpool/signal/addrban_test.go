package signal

import (
	"net/netip"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

func TestAddressBansExpireAndStayBounded(t *testing.T) {
	b := make(addressBans)
	now := time.Unix(1000, 0)
	n := netip.MustParsePrefix("203.0.113.9/32")
	b.ban(n, now, time.Minute)
	b.ban(netip.Prefix{}, now, time.Minute)                        // unknown networks are never banned
	b.ban(netip.MustParsePrefix("127.0.0.1/32"), now, time.Minute) // nor a proxy on this host that names nobody
	if !b.banned(n, now.Add(59*time.Second)) || b.banned(n, now.Add(time.Minute)) {
		t.Error("a one-minute ban does not last exactly a minute")
	}
	if len(b) != 0 {
		t.Errorf("%d bans kept after expiry", len(b))
	}
	for i := range maxAddressBans + 10 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		b.ban(netip.PrefixFrom(a, 32), now, time.Minute)
	}
	if len(b) != maxAddressBans {
		t.Errorf("%d bans kept, want the bound %d", len(b), maxAddressBans)
	}
}

// A banned viewer that comes back from the same network joins, but its
// neighbours are told it will not upload; other networks are untouched.
func TestBannedNetworkMayOnlyReceive(t *testing.T) {
	h, url := newHubServer(t, Config{})
	r1, r2 := convict(t, h, url, joinWith(t, url, "720p", from("203.0.113.7")))

	added := func(c *client, id wire.PeerID) wire.PeerInfo {
		t.Helper()
		for {
			for _, p := range next[*wire.Peers](c).Add {
				if p.ID == id {
					return p
				}
			}
		}
	}
	back := joinWith(t, url, "720p", from("203.0.113.7"))
	if p := added(r1, back.id); !p.NoUpload {
		t.Errorf("the banned network's new viewer was offered as an uploader: %+v", p)
	}
	if p := added(back, r1.id); p.NoUpload {
		t.Errorf("an honest neighbour is marked noUpload for the newcomer: %+v", p)
	}
	other := joinWith(t, url, "720p", from("203.0.113.8"))
	if p := added(r2, other.id); p.NoUpload {
		t.Errorf("a viewer from another network is marked noUpload: %+v", p)
	}
}
