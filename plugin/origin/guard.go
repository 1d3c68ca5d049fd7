package origin

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/swarmtx/swarmtx/bridge/llhls"
	"github.com/swarmtx/swarmtx/peerpool/client"
	"github.com/swarmtx/swarmtx/peerpool/signal"
	"github.com/swarmtx/swarmtx/plugin/access"
	"github.com/swarmtx/swarmtx/plugin/dashboard"
)

// pauseAfterDenial delays the answer to wrong credentials, as MediaMTX does,
// to slow guessing.
const pauseAfterDenial = 2 * time.Second

// guard asks the access checker before every door: a stream's playlists,
// media, player page and swarm (read, the stream's path), /metrics and the
// dashboard (metrics). The player bundle is public code and goes through.
type guard struct {
	next    http.Handler
	access  access.Checker
	proxies []netip.Prefix
	// signer, when set, signs the media URIs of protected streams'
	// playlists, and lets a request carrying a valid signature through.
	signer *access.URLSigner
	log    *slog.Logger
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, kind, ok := door(r)
	media := kind != 0
	if !ok || (r.Method == http.MethodOptions && media) {
		// A CORS preflight carries no credentials; the origin answers it
		// with its CORS headers and nothing else.
		g.next.ServeHTTP(w, r)
		return
	}
	if g.signer != nil && (kind == llhls.KindInit || kind == llhls.KindSegment || kind == llhls.KindPart) {
		// Whoever holds a URL signed for the stream may have its media, and
		// so may a CDN keep it for them. A signature that does not hold
		// leaves the request to its credentials.
		if sig := r.URL.Query().Get(access.SignedURLParam); sig != "" && g.signer.Verify(req.Path, sig, time.Now()) == nil {
			g.next.ServeHTTP(w, r)
			return
		}
	}
	req.Query = r.URL.RawQuery
	req.IP = clientIP(r, g.proxies)
	req.Credentials = access.CredentialsFrom(r)
	err := g.access.Check(r.Context(), req)
	if err == nil {
		if e, ok := g.access.(access.Expirer); ok && strings.HasSuffix(r.URL.Path, "/swarm") {
			// The swarm session lasts only as long as the token that opened it.
			if end := e.ExpiresAt(r.Context(), req); !end.IsZero() {
				r = r.WithContext(signal.WithSessionEnd(r.Context(), end))
			}
		}
		if o, ok := g.access.(access.Opener); !strings.HasSuffix(r.URL.Path, "/swarm") && (!ok || !o.Open(req)) {
			w = &privateWriter{ResponseWriter: w}
			if g.signer != nil && kind == llhls.KindMediaPlaylist {
				sw := &signingWriter{heldWriter{ResponseWriter: w}}
				g.next.ServeHTTP(sw, r)
				sw.finish(g.signer.Sign(req.Path, time.Now()))
				return
			}
		}
		g.next.ServeHTTP(w, r)
		return
	}
	// A player on another origin must see the 401, not a CORS failure.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if req.Credentials == (access.Credentials{}) {
		w.Header().Set("WWW-Authenticate", `Basic realm="mediamtx"`)
		http.Error(w, "credentials needed", http.StatusUnauthorized)
		return
	}
	var denied *access.Denied
	if !errors.As(err, &denied) {
		g.log.Error("cannot check access; refusing", "path", req.Path, "error", err)
	} else {
		g.log.Info("access denied", "path", req.Path, "action", string(req.Action), "ip", req.IP.String(), "reason", denied.Reason)
	}
	select {
	case <-r.Context().Done():
		return
	case <-time.After(pauseAfterDenial):
	}
	http.Error(w, "access denied", http.StatusUnauthorized)
}

// door names what a request asks for; kind is the LL-HLS file it names (0
// for other doors); ok is false for what needs no permission (the player
// bundle) or names no stream (answered 404).
func door(r *http.Request) (req access.Request, kind llhls.Kind, ok bool) {
	p := r.URL.Path
	switch {
	case p == "/metrics" || dashboard.Door(p):
		// The dashboard shows what /metrics does, and more of it.
		return access.Request{Action: access.ActionMetrics}, 0, true
	case strings.HasPrefix(p, client.AssetPrefix):
		return access.Request{}, 0, false
	}
	if stream, ok := strings.CutSuffix(strings.TrimPrefix(p, "/"), "/swarm"); ok && stream != "" {
		return access.Request{Action: access.ActionRead, Path: stream}, 0, true
	}
	if stream, ok := strings.CutSuffix(strings.TrimPrefix(p, "/"), "/"); ok && stream != "" {
		return access.Request{Action: access.ActionRead, Path: stream}, 0, true
	}
	if hls, err := llhls.ParseRequestPath(p); err == nil {
		return access.Request{Action: access.ActionRead, Path: hls.Stream}, hls.Kind, true
	}
	return access.Request{}, 0, false
}

// clientIP is the request's address; from a trusted proxy (the
// hlsTrustedProxies of mediamtx.yml), the nearest untrusted address it
// forwarded for, as MediaMTX's HLS server takes it.
func clientIP(r *http.Request, proxies []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	ip = ip.Unmap()
	if !trusted(ip, proxies) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip
		}
		hop = hop.Unmap()
		if !trusted(hop, proxies) {
			return hop
		}
		ip = hop
	}
	return ip
}

func trusted(ip netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
