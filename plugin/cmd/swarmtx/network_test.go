//go:build !swarmtx_placeholder

package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
)

// MediaMTX's ICE servers are only seen at start: a list the peer protocol
// would refuse stops the plugin with the keys to look at, instead of
// turning every viewer away at join.
func TestStartNetworkRefusesAWelcomeViewersWouldRefuse(t *testing.T) {
	cfg := config.Default()
	cfg.ICEUDPAddress, cfg.ICETCPAddress = config.Off, config.Off
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var m mtxconf.WebRTC
	for range 8 {
		m.ICEServers = append(m.ICEServers, mtxconf.ICEServer{URL: "stun:stun.example.com:3478"})
	}
	if _, err := startNetwork(cfg, m, log); err == nil || !strings.Contains(err.Error(), "webrtcICEServers2") {
		t.Fatalf("8 servers from MediaMTX plus the built-in one: %v", err)
	}
	m.ICEServers = m.ICEServers[:7]
	n, err := startNetwork(cfg, m, log)
	if err != nil {
		t.Fatal(err)
	}
	n.close()
	cfg.RelayOnly = true
	if _, err := startNetwork(cfg, m, log); err == nil || !strings.Contains(err.Error(), "relayOnly") {
		t.Fatalf("relayOnly with STUN servers only: %v", err)
	}
}
