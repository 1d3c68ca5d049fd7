//go:build !swarmtx_placeholder

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/iceservers"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
	"github.com/swarmtx/swarmtx/plugin/stunturn"
	"github.com/swarmtx/swarmtx/plugin/turncred"
)

// network is the swarm's side of the internet: the ICE servers viewers are
// given, the built-in STUN/TURN server and the seeders' sockets.
type network struct {
	cfg  config.Config
	log  *slog.Logger
	ice  *iceservers.List
	api  *peer.ServerAPI
	stun *stunturn.Settings // nil: off
	srv  *stunturn.Server
}

// startNetwork binds the seeders' ICE ports and prepares the ICE servers.
func startNetwork(cfg config.Config, m mtxconf.WebRTC, log *slog.Logger) (*network, error) {
	merged := cfg.ICE(m)
	off := func(addr string) string {
		if addr == config.Off {
			return ""
		}
		return addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api, err := peer.NewServerAPI(ctx, peer.ServerNetwork{
		UDPAddress:      off(cfg.ICEUDPAddress),
		TCPAddress:      off(cfg.ICETCPAddress),
		PublicHosts:     merged.PublicHosts,
		OnlyPublicHosts: !merged.InterfaceAddresses && len(merged.PublicHosts) > 0,
		Interfaces:      merged.Interfaces,
		Logger:          log,
	})
	if err != nil {
		return nil, fmt.Errorf("the seeders' WebRTC ports (config keys iceUDPAddress, iceTCPAddress, publicHosts): %w", err)
	}
	n := &network{cfg: cfg, log: log, api: api}
	settings := iceservers.Settings{Servers: merged.Servers, Lifetime: cfg.ICECredentialLifetime.D()}
	if cfg.STUNAddress != config.Off {
		_, p, _ := net.SplitHostPort(cfg.STUNAddress) // validated
		port, _ := strconv.Atoi(p)
		b := &iceservers.Builtin{Port: port}
		if len(merged.PublicHosts) > 0 {
			b.Host = merged.PublicHosts[0]
		}
		n.stun = &stunturn.Settings{Address: cfg.STUNAddress, Logger: log}
		if cfg.TURN.Enabled {
			if b.TURN, n.stun.TURN, err = builtinTURN(cfg, api.PublicIPs); err != nil {
				api.Close()
				return nil, err
			}
		}
		settings.Builtin = b
	}
	if n.ice, err = iceservers.New(settings); err != nil {
		api.Close()
		return nil, fmt.Errorf("ICE servers (config key iceServers, or MediaMTX's webrtcICEServers2): %w", err)
	}
	// What MediaMTX lists was not checked with swarmtx's config: a welcome
	// the peer protocol refuses would turn every viewer away.
	sample := wire.Welcome{V: wire.ProtocolVersion, ID: wire.NewPeerID(), ICETransportPolicy: "all", PartTargetMs: 500, MaxFrame: wire.MaxFrameSize,
		ICE: n.ice.ForViewer("origin.example.com", string(wire.NewPeerID()), time.Now())}
	if err := sample.Validate(); err != nil {
		api.Close()
		return nil, fmt.Errorf("ICE servers (config keys iceServers, stunAddress, turn, or MediaMTX's webrtcICEServers2): %w", err)
	}
	if cfg.RelayOnly && !n.ice.HasTURN() {
		api.Close()
		return nil, fmt.Errorf("relayOnly: no TURN server (turn.enabled, iceServers or MediaMTX's webrtcICEServers2)")
	}
	log.Info("swarm network", "iceServers", n.ice.Count(), "stun", cfg.STUNAddress, "turn", cfg.TURN.Enabled,
		"iceUDP", cfg.ICEUDPAddress, "iceTCP", cfg.ICETCPAddress, "publicIPs", api.PublicIPs)
	return n, nil
}

// builtinTURN makes the relay's settings with a secret of this process:
// the credentials it checks are minted here and nowhere else.
func builtinTURN(cfg config.Config, publicIPs []string) (*turncred.Minter, *stunturn.TURNSettings, error) {
	relayIP := net.ParseIP(cfg.TURN.RelayIP)
	for _, ip := range publicIPs {
		if relayIP != nil {
			break
		}
		if p := net.ParseIP(ip); p.To4() != nil {
			relayIP = p
		}
	}
	if relayIP == nil {
		return nil, nil, fmt.Errorf("turn.enabled: no public IPv4 address to relay at: set turn.relayIP or an IPv4 address in publicHosts")
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, fmt.Errorf("TURN secret: %w", err)
	}
	minter, err := turncred.NewMinter(hex.EncodeToString(secret), cfg.ICECredentialLifetime.D())
	if err != nil {
		return nil, nil, fmt.Errorf("TURN credentials (config key iceCredentialLifetime): %w", err)
	}
	lo, hi, _ := cfg.TURN.PortRange() // validated
	return minter, &stunturn.TURNSettings{
		Credentials: minter, Realm: cfg.TURN.Realm, RelayIP: relayIP, MinPort: lo, MaxPort: hi,
		QuotaBytes: int64(cfg.TURN.QuotaMB) << 20, MaxAllocationsPerUser: cfg.TURN.MaxAllocations,
	}, nil
}

// serveSTUN starts the built-in STUN/TURN server, counting what it sends.
func (n *network) serveSTUN(onSent func(socket string, bytes int)) error {
	if n.stun == nil {
		return nil
	}
	s := *n.stun
	s.OnSent = onSent
	srv, err := stunturn.Start(s)
	if err != nil {
		return fmt.Errorf("built-in STUN server (config key stunAddress; \"off\" turns it off): %w", err)
	}
	n.srv = srv
	n.log.Info("STUN server listening", "address", srv.Addr().String(), "turn", s.TURN != nil)
	return nil
}

func (n *network) close() {
	if n.srv != nil {
		n.srv.Close()
	}
	n.api.Close()
}
