//go:build !swarmtx_placeholder

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/bridge/ladder"
	"github.com/swarmtx/swarmtx/plugin/access"
	"github.com/swarmtx/swarmtx/plugin/certs"
	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/mtxconf"
	"github.com/swarmtx/swarmtx/plugin/origin"
)

// certCheckEvery is how often the TLS certificate's files are looked at.
const certCheckEvery = 10 * time.Second

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
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if certFile == "" && mc.HLSEncryption {
		certFile, keyFile = mc.HLSServerCert, mc.HLSServerKey
	}
	var tlsCert *certs.Reloader
	if certFile != "" {
		if tlsCert, err = certs.Load(certFile, keyFile, log); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("HTTPS (config keys tlsCert, tlsKey, or MediaMTX's hlsServerCert, hlsServerKey): %w", err)
		}
	}
	nw, err := startNetwork(cfg, mc.WebRTC, log)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	b := origin.New(origin.Settings{
		ListenAddress: ln.Addr().String(),
		PublicURL:     cfg.PublicURL,
		TLS:           tlsCert != nil,
		FFmpegPath:    ffmpeg,
		ICE:           nw.ice,
		WebRTC:        nw.api.API,
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
	if err := nw.serveSTUN(b.CountICEServerSent); err != nil {
		b.Close()
		nw.close()
		ln.Close()
		return nil, nil, err
	}
	srv := httpguard.NewServer(b.Handler(), limits)
	served := httpguard.LimitListener(ln, limits)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	scheme := "HTTP"
	if tlsCert != nil {
		served = tls.NewListener(served, tlsCert.TLSConfig())
		go tlsCert.Watch(watchCtx, certCheckEvery)
		scheme = "HTTPS"
	}
	go func() {
		if err := srv.Serve(served); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP origin stopped", "error", err)
		}
	}()
	log.Info(scheme+" origin listening", "address", ln.Addr().String(), "limits", limits.WithDefaults().String())
	stop := func() {
		stopWatch()
		b.Close()
		nw.close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return b, stop, nil
}
