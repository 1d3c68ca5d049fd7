//go:build !swarmtx_placeholder

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/bridge/ladder"
	"github.com/swarmtx/swarmtx/plugin/access"
	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
	"github.com/swarmtx/swarmtx/plugin/origin"
)

// newBridge creates the origin the plugin serves and starts its HTTP server.
// The returned stop function ends every session and the HTTP server.
func newBridge(cfg config.Config, log *slog.Logger) (contract.Bridge, func(), error) {
	ffmpeg := ""
	if cfg.FFmpegEnabled() {
		if path, ok := ladder.FFmpegAvailable(cfg.FFmpeg); ok {
			ffmpeg = path
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for HTTP (config key listen): %w", err)
	}
	limits := cfg.HTTPSettings()
	limits.Logger = log
	mpath := cfg.MediaMTXConfig
	if mpath == "" {
		mpath = mtxconf.Find()
	}
	mc, err := mtxconf.Load(mpath)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("access settings (config key mediamtxConfig): %w", err)
	}
	checker, err := access.New(mc.Access)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("access settings from %s: %w", mpath, err)
	}
	log.Info("access decided as MediaMTX does", "mediamtxConfig", mpath, "authMethod", mc.Access.Method)
	b := origin.New(origin.Settings{
		ListenAddress: ln.Addr().String(),
		PublicURL:     cfg.PublicURL,
		FFmpegPath:    ffmpeg,
		ICEServers:    cfg.WireICEServers(),
		RelayOnly:     cfg.RelayOnly,
		HTTP:          limits,
		Swarm: origin.SwarmLimits{
			MaxSessionsPerNetwork:    cfg.SwarmMaxSessionsPerNetwork,
			JoinsPerSecondPerNetwork: cfg.SwarmJoinsPerSecondPerNetwork,
		},
		Access:         checker,
		TrustedProxies: mc.Access.TrustedProxies,
		Logger:         log,
	})
	srv := httpguard.NewServer(b.Handler(), limits)
	go func() {
		if err := srv.Serve(httpguard.LimitListener(ln, limits)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP origin stopped", "error", err)
		}
	}()
	log.Info("HTTP origin listening", "address", ln.Addr().String(), "limits", limits.WithDefaults().String())
	stop := func() {
		b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return b, stop, nil
}
