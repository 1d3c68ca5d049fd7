package iceservers

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/turncred"
)

func TestViewersGetTheBuiltinServerUnderTheNameTheyUsed(t *testing.T) {
	minter, _ := turncred.NewMinter("built-in relay secret 0123", time.Hour)
	l, err := New(Settings{
		Builtin:  &Builtin{Port: 3478, TURN: minter},
		Servers:  []Server{{URLs: []string{"turn:turn.example.com:3478"}, Secret: "coturn static auth secret", ClientOnly: true}},
		Lifetime: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	got := l.ForViewer("Live.Example.com:8443", "viewer1", now)
	if len(got) != 3 || got[0].URLs[0] != "stun:live.example.com:3478" || got[1].URLs[0] != "turn:live.example.com:3478?transport=udp" {
		t.Fatalf("servers %+v", got)
	}
	if got[1].Username != "1800003600:viewer1" || got[2].Username != "1800003600:viewer1" || got[1].Credential == got[2].Credential {
		t.Fatalf("credentials not minted per viewer and per secret: %+v", got)
	}
	if _, _, err := minter.Password(got[1].Username, now); err != nil {
		t.Fatal(err)
	}
	if v6 := l.ForViewer("[2001:db8::1]:8880", "v", now); v6[0].URLs[0] != "stun:[2001:db8::1]:3478" {
		t.Fatalf("IPv6 host: %v", v6[0].URLs)
	}
	// A Host header that is not a name gets no built-in server, never a mangled URL.
	for _, bad := range []string{"evil.com/x?y", "a b", "", "fe80::1%eth0", strings.Repeat("a", 64) + ".com"} {
		if got := l.ForViewer(bad, "v", now); len(got) != 1 || got[0].URLs[0] != "turn:turn.example.com:3478" {
			t.Errorf("Host %q: %+v", bad, got)
		}
	}
	// The origin's own peers get no client-only server and not the built-in one.
	if got := l.ForOrigin("seed", now); len(got) != 0 {
		t.Fatalf("origin servers %+v", got)
	}
	if !l.HasTURN() || l.Count() != 3 {
		t.Fatalf("HasTURN %v Count %d", l.HasTURN(), l.Count())
	}
	// Every list validates as the peer protocol's welcome.
	w := wire.Welcome{V: wire.ProtocolVersion, ID: "00000000000000000000000000000000", ICE: got, ICETransportPolicy: "all", PartTargetMs: 500, MaxFrame: wire.MaxFrameSize}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPublicHostNamesTheBuiltinServer(t *testing.T) {
	l, err := New(Settings{Builtin: &Builtin{Port: 3479, Host: "203.0.113.20"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.ForViewer("10.0.0.5:8880", "v", time.Now()); len(got) != 1 || got[0].URLs[0] != "stun:203.0.113.20:3479" {
		t.Fatalf("%+v", got)
	}
	if l.HasTURN() {
		t.Fatal("STUN only has TURN")
	}
}

func TestNewRejects(t *testing.T) {
	for name, s := range map[string]Settings{
		"no urls":         {Servers: []Server{{}}},
		"scheme":          {Servers: []Server{{URLs: []string{"http://x"}}}},
		"secret and user": {Servers: []Server{{URLs: []string{"turn:x"}, Secret: "0123456789abcdef0", Username: "u"}}, Lifetime: time.Hour},
		"short secret":    {Servers: []Server{{URLs: []string{"turn:x"}, Secret: "short"}}, Lifetime: time.Hour},
		"port":            {Builtin: &Builtin{Port: 0}},
		"host":            {Builtin: &Builtin{Port: 1, Host: "not a host"}},
	} {
		if _, err := New(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzHostname(f *testing.F) {
	for _, s := range []string{"example.com:80", "[::1]:1", "1.2.3.4", "a..b", "-a.com", "ö.com", "[fe80::1%eth0]:1", "x.y."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := Hostname(s)
		if !ok {
			return
		}
		// Whatever passes makes a URL host that parses back to itself.
		hp := net.JoinHostPort(h, "3478")
		back, port, err := net.SplitHostPort(hp)
		if err != nil || back != h || port != "3478" || strings.ContainsAny(h, "/?#@ \t\r\n%") {
			t.Fatalf("Hostname(%q) = %q makes %q", s, h, hp)
		}
	})
}
