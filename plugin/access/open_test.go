package access

import (
	"net/netip"
	"testing"
)

// Only what anyone may read is open: what needs credentials or comes
// from chosen addresses must not be stored by a shared cache.
func TestOpen(t *testing.T) {
	read := func(path string) Request { return Request{Action: ActionRead, Path: path} }
	in := &Internal{Users: []User{
		{User: "any", IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Permissions: []Permission{mustPerm(t, "read", "")}},
		{User: "any", Permissions: []Permission{mustPerm(t, "read", "~^open/"), mustPerm(t, "publish", "")}},
		{User: "alice", Pass: mustCred(t, "pw"), Permissions: []Permission{mustPerm(t, "read", "")}},
	}}
	for path, want := range map[string]bool{"open/show": true, "live/show": false} {
		if got := in.Open(read(path)); got != want {
			t.Errorf("internal: Open(read %s) = %v, want %v", path, got, want)
		}
	}
	if in.Open(Request{Action: ActionMetrics}) {
		t.Error("internal: metrics open although no one may read them without an address")
	}
	h := &HTTP{Exclude: []Permission{mustPerm(t, "read", "open/show")}}
	j := &JWT{Exclude: []Permission{mustPerm(t, "read", "open/show")}}
	for name, o := range map[string]Opener{"http": h, "jwt": j} {
		if !o.Open(read("open/show")) || o.Open(read("live/show")) {
			t.Errorf("%s: excluded path open %v, other path open %v", name, o.Open(read("open/show")), o.Open(read("live/show")))
		}
	}
}
