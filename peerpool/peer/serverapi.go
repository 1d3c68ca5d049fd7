package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// ServerNetwork is where a server's peers (the origin's seeders, a relay)
// take WebRTC traffic: one UDP port and one TCP port for all of them, so a
// firewall needs exactly those, and the public addresses they are reached
// at when the host only knows private ones (a cloud VM behind a 1:1 NAT).
type ServerNetwork struct {
	// UDPAddress is the ICE UDP address ("host:port" or ":port"); "" lets
	// each connection take a random port.
	UDPAddress string
	// TCPAddress is the ICE-TCP address, for viewers whose network blocks
	// UDP; "" turns ICE-TCP off.
	TCPAddress string
	// PublicHosts are public IP addresses or names offered as host
	// candidates; names are resolved once, at start.
	PublicHosts []string
	// OnlyPublicHosts offers PublicHosts instead of the interfaces'
	// addresses rather than besides them.
	OnlyPublicHosts bool
	// Interfaces, when set, are the only interfaces whose addresses are used.
	Interfaces []string
	Logger     *slog.Logger
}

// ServerAPI is a pion API bound to a ServerNetwork's sockets.
type ServerAPI struct {
	*webrtc.API
	// PublicIPs are the addresses PublicHosts resolved to.
	PublicIPs []string
	closers   []func() error
}

// Close releases the sockets; the API's connections stop working.
func (a *ServerAPI) Close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// NewServerAPI binds the network's ports and returns the API using them.
func NewServerAPI(ctx context.Context, n ServerNetwork) (*ServerAPI, error) {
	if n.Logger == nil {
		n.Logger = slog.Default()
	}
	a := &ServerAPI{}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	var keep func(string) bool
	if len(n.Interfaces) > 0 {
		allowed := make(map[string]bool, len(n.Interfaces))
		for _, name := range n.Interfaces {
			allowed[name] = true
		}
		keep = func(name string) bool { return allowed[name] }
		se.SetInterfaceFilter(keep)
	}
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	fail := func(err error) (*ServerAPI, error) {
		a.Close()
		return nil, err
	}
	if n.UDPAddress != "" {
		mux, err := udpMux(n.UDPAddress, keep)
		if err != nil {
			return fail(fmt.Errorf("ICE UDP port %s: %w", n.UDPAddress, err))
		}
		a.closers = append(a.closers, mux.Close)
		se.SetICEUDPMux(mux)
	}
	if n.TCPAddress != "" {
		ln, err := net.Listen("tcp", n.TCPAddress)
		if err != nil {
			return fail(fmt.Errorf("ICE-TCP port %s: %w", n.TCPAddress, err))
		}
		mux := webrtc.NewICETCPMux(nil, ln, 8)
		a.closers = append(a.closers, mux.Close)
		se.SetICETCPMux(mux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	for _, h := range n.PublicHosts {
		if ip := net.ParseIP(h); ip != nil {
			a.PublicIPs = append(a.PublicIPs, ip.String())
			continue
		}
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", h)
		if err != nil {
			return fail(fmt.Errorf("public host %q: %w", h, err))
		}
		for _, ip := range ips {
			a.PublicIPs = append(a.PublicIPs, ip.String())
		}
	}
	if len(a.PublicIPs) > 0 {
		mode := webrtc.ICEAddressRewriteAppend
		if n.OnlyPublicHosts {
			mode = webrtc.ICEAddressRewriteReplace
		}
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: a.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: mode,
		}); err != nil {
			return fail(fmt.Errorf("public hosts %v: %w", n.PublicHosts, err))
		}
	}
	a.API = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	return a, nil
}

// udpMux listens on one UDP port: on every interface's address when the
// host part is empty or a wildcard (each address gets its own host
// candidate), else on that address alone.
func udpMux(addr string, keep func(string) bool) (ice.UDPMux, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", p, err)
	}
	if ip := net.ParseIP(host); host != "" && !ip.IsUnspecified() {
		conn, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, err
		}
		return webrtc.NewICEUDPMux(nil, conn), nil
	}
	var opts []ice.UDPMuxFromPortOption
	if keep != nil {
		opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(keep))
	}
	return ice.NewMultiUDPMuxFromPort(port, opts...)
}
