package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/plugin/iceservers"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
)

func TestNetworkDefaults(t *testing.T) {
	c := Default()
	if c.STUNAddress != ":3478" || c.ICEUDPAddress != ":8881" || c.ICETCPAddress != ":8881" || c.TURN.Enabled || c.ICEServers != nil {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestICEServersAndTURN(t *testing.T) {
	c, err := Parse([]byte(`
iceServers:
  - urls: ["turn:turn.example.com:3478"]
    secret: coturn-static-auth-secret
    clientOnly: true
relayOnly: true
publicHosts: [203.0.113.20, live.example.com]
turn: {enabled: true, relayPorts: 50000-50100, quotaMB: 10}
iceUDPAddress: off
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.TURN.Enabled || c.TURN.QuotaMB != 10 || c.TURN.MaxAllocations != 32 || c.ICEUDPAddress != Off {
		t.Fatalf("%+v", c)
	}
	if lo, hi, err := c.TURN.PortRange(); lo != 50000 || hi != 50100 || err != nil {
		t.Fatalf("PortRange %d %d %v", lo, hi, err)
	}
	for yaml, want := range map[string]string{
		"iceServers:\n  - urls: [\"http://x\"]\n":                                           "iceServers",
		"iceServers:\n  - urls: []\n":                                                       "iceServers",
		"iceServers:\n  - urls: [turn:x]\n    secret: short\n":                              "at least 16",
		"iceServers:\n  - urls: [turn:x]\n    secret: 0123456789abcdefg\n    username: u\n": "no username",
		"relayOnly: true\n":                           "relayOnly",
		"stunAddress: 3478\n":                         "stunAddress",
		"iceTCPAddress: ':0'\n":                       "iceTCPAddress",
		"iceUDPAddress: ':3478'\n":                    "takes stunAddress's UDP port",
		"publicHosts: ['203.0.113.1:80']\n":           "publicHosts",
		"publicHosts: ['a b']\n":                      "publicHosts",
		"turn: {enabled: true}\nstunAddress: 'off'\n": "turn.enabled",
		"turn: {relayIP: '::1'}\n":                    "turn.relayIP",
		"turn: {relayPorts: 80-90}\n":                 "turn.relayPorts",
		"turn: {relayPorts: 9000}\n":                  "turn.relayPorts",
		"turn: {quotaMB: -1}\n":                       "turn.quotaMB",
		"turn: {maxAllocations: 0}\n":                 "turn.maxAllocations",
		"turn: {realm: ''}\n":                         "turn.realm",
		"iceCredentialLifetime: 10s\n":                "iceCredentialLifetime",
		"iceServers: [{urls: [stun:a]}, {urls: [stun:a]}, {urls: [stun:a]}, {urls: [stun:a]}, {urls: [stun:a]}, {urls: [stun:a]}, {urls: [stun:a]}, {urls: [stun:a]}]\n": "more than 8",
		"turn: {port: 1}\n": "unknown key port",
	} {
		if _, err := Parse([]byte(yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one naming %s", yaml, err, want)
		}
	}
}

func TestICETakesWhatMediaMTXKnows(t *testing.T) {
	m := mtxconf.WebRTC{
		ICEServers: []mtxconf.ICEServer{
			{URL: "stun:stun.example.com:3478"},
			{URL: "turn:turn.example.com:3478", Username: mtxconf.AuthSecretUser, Password: "the-shared-secret", ClientOnly: true},
		},
		AdditionalHosts:       []string{"203.0.113.20"},
		IPsFromInterfaces:     false,
		IPsFromInterfacesList: []string{"eth0"},
	}
	got := Default().ICE(m)
	want := ICE{
		Servers: []iceservers.Server{
			{URLs: []string{"stun:stun.example.com:3478"}},
			{URLs: []string{"turn:turn.example.com:3478"}, Secret: "the-shared-secret", ClientOnly: true},
		},
		PublicHosts: []string{"203.0.113.20"}, InterfaceAddresses: false, Interfaces: []string{"eth0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// swarmtx's own keys win, even when they say "none".
	c, err := Parse([]byte("iceServers: []\npublicHosts: [198.51.100.7]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got = c.ICE(m)
	if len(got.Servers) != 0 || !reflect.DeepEqual(got.PublicHosts, []string{"198.51.100.7"}) || !got.InterfaceAddresses || got.Interfaces != nil {
		t.Fatalf("own keys: %+v", got)
	}
}
