package mtxconf

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// AuthSecretUser is the username MediaMTX's webrtcICEServers2 uses to say
// that the password is a TURN REST API shared secret: each client gets
// time-limited credentials made from it.
const AuthSecretUser = "AUTH_SECRET"

// ICEServer is one entry of webrtcICEServers2.
type ICEServer struct {
	URL      string
	Username string
	Password string
	// ClientOnly servers are for clients (viewers), not MediaMTX's (or
	// swarmtx's) own peers.
	ClientOnly bool
}

// WebRTC is what MediaMTX's own WebRTC server is told about the network,
// which holds as much for swarmtx's peers on the same host.
type WebRTC struct {
	// ICEServers is webrtcICEServers2 (default none).
	ICEServers []ICEServer
	// AdditionalHosts is webrtcAdditionalHosts: public IPs or names of the
	// host (default none).
	AdditionalHosts []string
	// IPsFromInterfaces is webrtcIPsFromInterfaces (default true), and
	// IPsFromInterfacesList webrtcIPsFromInterfacesList, the interfaces
	// whose addresses are offered (default all).
	IPsFromInterfaces     bool
	IPsFromInterfacesList []string
}

func parseWebRTC(keys map[string]*yaml.Node, c *WebRTC) error {
	c.IPsFromInterfaces = true
	if n, ok := keys["webrtcIPsFromInterfaces"]; ok {
		v, err := asBool(n)
		if err != nil {
			return fmt.Errorf("key webrtcIPsFromInterfaces (line %d): %v", n.Line, err)
		}
		c.IPsFromInterfaces = v
	}
	for key, dst := range map[string]*[]string{"webrtcAdditionalHosts": &c.AdditionalHosts, "webrtcIPsFromInterfacesList": &c.IPsFromInterfacesList} {
		if n, ok := keys[key]; ok {
			if err := n.Decode(dst); err != nil {
				return fmt.Errorf("key %s (line %d): want a list of strings", key, n.Line)
			}
		}
	}
	n, ok := keys["webrtcICEServers2"]
	if !ok {
		return nil
	}
	var raw []struct {
		URL        string `yaml:"url"`
		Username   string `yaml:"username"`
		Password   string `yaml:"password"`
		ClientOnly bool   `yaml:"clientOnly"`
	}
	if err := n.Decode(&raw); err != nil {
		return fmt.Errorf("key webrtcICEServers2 (line %d): want a list of {url, username, password, clientOnly}", n.Line)
	}
	for i, r := range raw {
		if r.URL == "" {
			return fmt.Errorf("key webrtcICEServers2: entry %d has no url", i)
		}
		c.ICEServers = append(c.ICEServers, ICEServer(r))
	}
	return nil
}
