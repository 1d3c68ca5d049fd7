// Package relay runs a dedicated high-upload peer in a stream's swarm: a Go
// viewer of one rendition that uploads as much as its link allows and
// rejoins whenever it loses the swarm, so an operator can add upload on
// another box (`swarmtx relay`). The tracker ranks peers by measured
// upload, so a relay that delivers moves up the mesh and becomes a seed
// target of the plugin.
package relay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/peer"
	"github.com/swarmtx/swarmtx/peerpool/viewer"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Config configures a relay.
type Config struct {
	// URL is the stream's base on the origin, e.g. http://origin:8880/live/show/.
	URL string
	// Rendition to carry (default "source").
	Rendition string
	// UploadCapBps caps what the relay uploads (bytes/s); 0 is no cap.
	UploadCapBps int64
	// Interfaces, when not empty, are the only network interfaces ICE
	// gathers candidates on ("lo" includes loopback candidates).
	Interfaces []string
	// Network, when set, binds the relay's WebRTC to fixed ports and public
	// addresses (peer.ServerNetwork; its Interfaces replace the ones above):
	// a relay on a server behind a firewall or a 1:1 NAT.
	Network *peer.ServerNetwork
	// Header is added to every request the relay makes: credentials for a
	// protected stream (see viewer.Config.Header).
	Header http.Header
	// StatsEvery is how often the relay logs its figures (default 10 s).
	StatsEvery time.Duration
	// OnStats, optional, receives the figures each time they are logged.
	OnStats func(viewer.Stats)
	Logger  *slog.Logger
}

// Rejoin backoff bounds.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// Run carries the stream until ctx ends; it returns nil then, or an error
// for a configuration that can never work.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if cfg.Rendition == "" {
		cfg.Rendition = "source"
	}
	if cfg.StatsEvery <= 0 {
		cfg.StatsEvery = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log := cfg.Logger
	var api *webrtc.API
	var err error
	if cfg.Network != nil {
		n := *cfg.Network
		n.Logger = log
		var sa *peer.ServerAPI
		if sa, err = peer.NewServerAPI(ctx, n); err == nil {
			defer sa.Close()
			api = sa.API
		}
	} else {
		api, err = peer.NewAPI(cfg.Interfaces)
	}
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	backoff := minBackoff
	for {
		v, err := viewer.Run(ctx, viewer.Config{
			URL:          cfg.URL,
			Rendition:    cfg.Rendition,
			CanUpload:    true,
			UploadCapBps: cfg.UploadCapBps,
			Header:       cfg.Header,
			API:          api,
			Logger:       log,
			// A relay has no screen to keep fed: it waits for the swarm as
			// long as its buffer allows and fetches over HTTP only then.
			PartDeadline: func(_ wire.PartID, d time.Duration) time.Duration { return 10 * d },
		})
		if err == nil {
			log.Info("relay joined the swarm", "url", cfg.URL, "rendition", cfg.Rendition, "peer", v.ID())
			backoff = minBackoff
			watch(ctx, v, cfg)
			v.Close()
			err = v.Err()
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("relay is out of the swarm; rejoining", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (c Config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("relay: --url %q is not the http(s) URL of a stream, e.g. http://origin:8880/live/show/", c.URL)
	}
	if c.UploadCapBps < 0 || c.UploadCapBps > wire.MaxUploadCapBps {
		return fmt.Errorf("relay: upload cap %d bytes/s is outside 0..%d", c.UploadCapBps, int64(wire.MaxUploadCapBps))
	}
	return nil
}

// watch logs the relay's figures until it leaves the swarm or ctx ends.
func watch(ctx context.Context, v *viewer.Viewer, cfg Config) {
	t := time.NewTicker(cfg.StatsEvery)
	defer t.Stop()
	var lastUp int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.Done():
			return
		case <-t.C:
			st := v.Stats()
			cfg.Logger.Info("relay",
				"peers", st.Peers,
				"uploaded_bytes", st.UploadBytes,
				"upload_bps", (st.UploadBytes-lastUp)*int64(time.Second)/int64(cfg.StatsEvery),
				"p2p_share", fmt.Sprintf("%.2f", st.P2PShare()),
				"stalls", st.Stalls)
			lastUp = st.UploadBytes
			if cfg.OnStats != nil {
				cfg.OnStats(st)
			}
		}
	}
}
