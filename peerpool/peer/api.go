package peer

import (
	"fmt"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// NewAPI returns a pion API for peers on a real network: host candidates
// on every interface (or only the ones named), no mDNS, and whatever
// STUN/TURN servers the origin hands out in welcome. Naming "lo" adds
// loopback candidates.
func NewAPI(interfaces []string) (*webrtc.API, error) {
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(interfaces) > 0 {
		allowed := make(map[string]bool, len(interfaces))
		for _, name := range interfaces {
			if _, err := net.InterfaceByName(name); err != nil {
				return nil, fmt.Errorf("network interface %q: %w", name, err)
			}
			allowed[name] = true
		}
		se.SetInterfaceFilter(func(name string) bool { return allowed[name] })
		if allowed["lo"] {
			se.SetIncludeLoopbackCandidate(true)
		}
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se)), nil
}

// NewLoopbackAPI returns a pion API that gathers host candidates only on
// "lo" and the test veth "v0"/"v1" (tests use loopback or their own
// network namespace), with loopback candidates on, mDNS off and UDP4
// only. No STUN is configured here; a caller passing ICEServers adds it.
func NewLoopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" || name == "v0" || name == "v1" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}
