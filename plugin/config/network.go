package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/iceservers"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
)

// Off turns off stunAddress, iceUDPAddress and iceTCPAddress.
const Off = "off"

// ICEServer is one STUN or TURN server, as browsers' RTCIceServer, plus
// how its credentials are made.
type ICEServer struct {
	URLs       []string `yaml:"urls"`
	Username   string   `yaml:"username"`
	Credential string   `yaml:"credential"`
	// Secret is a TURN REST API shared secret (coturn's static-auth-secret):
	// each viewer gets credentials of its own, valid iceCredentialLifetime,
	// instead of a lasting password.
	Secret string `yaml:"secret"`
	// ClientOnly servers go to viewers only, not to the origin's own peers.
	ClientOnly bool `yaml:"clientOnly"`
}

// TURNConfig is the built-in TURN relay.
type TURNConfig struct {
	// Enabled turns the relay on. Default false.
	Enabled bool `yaml:"enabled"`
	// RelayIP is the public IPv4 address relayed traffic is advertised at.
	// Default: the first of publicHosts that is an IP address.
	RelayIP string `yaml:"relayIP"`
	// RelayPorts is the UDP port range of relay allocations, "min-max"
	// (1024..65535). Default "49152-65535".
	RelayPorts string `yaml:"relayPorts"`
	// Realm is the TURN realm. Default "swarmtx".
	Realm string `yaml:"realm"`
	// QuotaMB bounds the megabytes one viewer may have relayed, both ways
	// (0..1000000; 0: no bound). Default 1024.
	QuotaMB int `yaml:"quotaMB"`
	// MaxAllocations bounds one viewer's open relay allocations (a browser
	// makes one per peer connection; 1..1000). Default 32.
	MaxAllocations int `yaml:"maxAllocations"`
}

func defaultTURN() TURNConfig {
	return TURNConfig{RelayPorts: "49152-65535", Realm: "swarmtx", QuotaMB: 1024, MaxAllocations: 32}
}

// PortRange returns RelayPorts' bounds.
func (t TURNConfig) PortRange() (min, max uint16, err error) {
	a, b, ok := strings.Cut(t.RelayPorts, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("want min-max within 1024-65535")
	}
	return uint16(lo), uint16(hi), nil
}

// ICE is the network side of the swarm once mediamtx.yml's WebRTC keys are
// taken into account: swarmtx's own keys win, MediaMTX's fill in.
type ICE struct {
	Servers     []iceservers.Server
	PublicHosts []string
	// InterfaceAddresses: offer the interfaces' own addresses besides
	// PublicHosts (MediaMTX's webrtcIPsFromInterfaces), from Interfaces
	// only when set (webrtcIPsFromInterfacesList).
	InterfaceAddresses bool
	Interfaces         []string
}

// ICE merges the ICE settings with MediaMTX's.
func (c Config) ICE(m mtxconf.WebRTC) ICE {
	ice := ICE{PublicHosts: c.PublicHosts, InterfaceAddresses: true}
	if c.ICEServers != nil {
		for _, s := range c.ICEServers {
			ice.Servers = append(ice.Servers, iceservers.Server(s))
		}
	} else {
		for _, s := range m.ICEServers {
			srv := iceservers.Server{URLs: []string{s.URL}, Username: s.Username, Credential: s.Password, ClientOnly: s.ClientOnly}
			if s.Username == mtxconf.AuthSecretUser {
				srv.Username, srv.Credential, srv.Secret = "", "", s.Password
			}
			ice.Servers = append(ice.Servers, srv)
		}
	}
	if c.PublicHosts == nil {
		ice.PublicHosts = m.AdditionalHosts
		ice.InterfaceAddresses = m.IPsFromInterfaces
		ice.Interfaces = m.IPsFromInterfacesList
	}
	return ice
}

// validateNetwork checks the keys of the swarm's network side.
func (c Config) validateNetwork(bad func(key, val, format string, args ...any)) []error {
	var errs []error
	servers := make([]iceservers.Server, 0, len(c.ICEServers))
	for _, s := range c.ICEServers {
		servers = append(servers, iceservers.Server(s))
	}
	listed, err := iceservers.New(iceservers.Settings{Servers: servers, Lifetime: c.ICECredentialLifetime.D()})
	if err != nil {
		errs = append(errs, fmt.Errorf("iceServers: %w", err))
	}
	for i, s := range c.ICEServers {
		w := wire.Welcome{V: wire.ProtocolVersion, ID: "00000000000000000000000000000000",
			ICE:                []wire.ICEServer{{URLs: s.URLs, Username: s.Username, Credential: s.Credential}},
			ICETransportPolicy: "all", PartTargetMs: 500, MaxFrame: wire.MaxFrameSize}
		if err := w.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("iceServers[%d]: %s", i, strings.TrimPrefix(err.Error(), "welcome: ice[0].")))
		}
	}
	builtin := 0
	if c.STUNAddress != Off {
		builtin = 1
		if c.TURN.Enabled {
			builtin = 2
		}
	}
	if n := len(c.ICEServers) + builtin; n > wire.MaxICEServers {
		bad("iceServers", strconv.Itoa(len(c.ICEServers)), "with the built-in server(s) viewers would get %d, more than %d", n, wire.MaxICEServers)
	}
	if d := c.ICECredentialLifetime.D(); d < time.Minute || d > 168*time.Hour {
		bad("iceCredentialLifetime", d.String(), "must be 1m0s..168h0m0s")
	}
	stunPort := checkPortAddr(bad, "stunAddress", c.STUNAddress)
	udpPort := checkPortAddr(bad, "iceUDPAddress", c.ICEUDPAddress)
	checkPortAddr(bad, "iceTCPAddress", c.ICETCPAddress)
	if stunPort != 0 && stunPort == udpPort {
		bad("iceUDPAddress", c.ICEUDPAddress, "takes stunAddress's UDP port %d", stunPort)
	}
	for _, h := range c.PublicHosts {
		if _, ok := iceservers.Hostname(h); !ok || strings.Contains(h, ":") && net.ParseIP(h) == nil {
			bad("publicHosts", h, "want an IP address or a host name, with no port")
		}
	}
	t := c.TURN
	if t.Enabled && c.STUNAddress == Off {
		bad("turn.enabled", "true", "the relay answers on stunAddress, which is off")
	}
	if t.RelayIP != "" {
		if a, err := netip.ParseAddr(t.RelayIP); err != nil || !a.Is4() {
			bad("turn.relayIP", t.RelayIP, "want an IPv4 address")
		}
	}
	if _, _, err := t.PortRange(); err != nil {
		bad("turn.relayPorts", t.RelayPorts, "%v", err)
	}
	if t.Realm == "" || len(t.Realm) > 64 || strings.ContainsAny(t.Realm, "\"\\\x00\r\n") {
		bad("turn.realm", t.Realm, "want 1..64 characters, no quotes or backslashes")
	}
	if t.QuotaMB < 0 || t.QuotaMB > 1_000_000 {
		bad("turn.quotaMB", strconv.Itoa(t.QuotaMB), "must be 0..1000000")
	}
	if t.MaxAllocations < 1 || t.MaxAllocations > 1000 {
		bad("turn.maxAllocations", strconv.Itoa(t.MaxAllocations), "must be 1..1000")
	}
	if c.RelayOnly && !t.Enabled && !listed.HasTURN() {
		bad("relayOnly", "true", "needs a TURN server: turn.enabled or a turn: or turns: server in iceServers")
	}
	return errs
}

// checkPortAddr checks an "off" or host:port key and returns its port (0 for off).
func checkPortAddr(bad func(key, val, format string, args ...any), key, addr string) int {
	if addr == Off {
		return 0
	}
	_, p, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(p)
	if err != nil || perr != nil || n < 1 || n > 65535 {
		bad(key, addr, `want host:port or :port (port 1..65535), or "off"`)
		return 0
	}
	return n
}
