package netid

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"198.51.100.7:5000", nil, "198.51.100.7/32"},
		{"198.51.100.7:5000", []string{"203.0.113.9"}, "198.51.100.7/32"}, // not from a local proxy: the header is not trusted
		{"127.0.0.1:5000", nil, "127.0.0.1/32"},
		{"127.0.0.1:5000", []string{"10.0.0.1, 203.0.113.9"}, "203.0.113.9/32"}, // the entry the proxy added is the last
		{"127.0.0.1:5000", []string{"10.0.0.1", "203.0.113.9"}, "203.0.113.9/32"},
		{"127.0.0.1:5000", []string{"not an address"}, "127.0.0.1/32"},
		{"[::1]:5000", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"},
		{"[2001:db8:a:b:c:d:e:f]:5000", nil, "2001:db8:a:b::/64"},
		{"[::ffff:198.51.100.7]:5000", nil, "198.51.100.7/32"},
		{"[fe80::1%eth0]:5000", nil, "fe80::/64"},
		{"garbage", nil, "invalid Prefix"},
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := Of(r).String(); got != c.want {
			t.Errorf("%s %q: network %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestOfAddr(t *testing.T) {
	if got := OfAddr(netip.Addr{}); got.IsValid() {
		t.Errorf("invalid address gave network %s", got)
	}
	if got := OfAddr(netip.MustParseAddr("fe80::1%eth0")).String(); got != "fe80::/64" {
		t.Errorf("zoned address gave %s", got)
	}
}
