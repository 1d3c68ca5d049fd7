// Package iceservers decides the STUN/TURN servers each peer is given: the
// origin's own STUN (and TURN) server, named as the viewer reached the
// origin, and the servers the operator lists, with time-limited TURN
// credentials minted for each viewer from a shared secret where the
// operator gave one, so no browser ever holds a lasting password.
package iceservers

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/swarmtx/swarmtx/peerpool/wire"
	"github.com/swarmtx/swarmtx/plugin/turncred"
)

// Server is one STUN or TURN server the operator lists.
type Server struct {
	URLs []string
	// Username and Credential are static credentials (STUN needs none).
	Username, Credential string
	// Secret is a TURN REST API shared secret (coturn's static-auth-secret):
	// each peer gets its own credentials, valid Settings.Lifetime.
	Secret string
	// ClientOnly servers go to viewers only, not to the origin's own peers.
	ClientOnly bool
}

// Builtin is the origin's own STUN (and TURN) server.
type Builtin struct {
	// Port is its UDP port.
	Port int
	// Host is the public name or address it is reached at; "" means the
	// host the viewer reached the origin by.
	Host string
	// TURN, when set, mints the credentials of the built-in TURN relay.
	TURN *turncred.Minter
}

// Settings configure a List.
type Settings struct {
	Servers []Server
	// Builtin is the origin's own server; nil: none.
	Builtin *Builtin
	// Lifetime of the credentials minted from a listed server's Secret.
	Lifetime time.Duration
}

// List hands out ICE servers.
type List struct {
	servers []server
	builtin *Builtin
}

type server struct {
	Server
	minter *turncred.Minter
}

// New checks the settings and returns the List.
func New(s Settings) (*List, error) {
	l := &List{builtin: s.Builtin}
	var errs []error
	for i, srv := range s.Servers {
		if len(srv.URLs) == 0 {
			errs = append(errs, fmt.Errorf("ICE server %d: no urls", i))
			continue
		}
		for _, u := range srv.URLs {
			if err := checkURL(u); err != nil {
				errs = append(errs, fmt.Errorf("ICE server %d: %w", i, err))
			}
		}
		e := server{Server: srv}
		if srv.Secret != "" {
			if srv.Username != "" || srv.Credential != "" {
				errs = append(errs, fmt.Errorf("ICE server %d: a shared secret mints the credentials; give no username or credential with it", i))
				continue
			}
			m, err := turncred.NewMinter(srv.Secret, s.Lifetime)
			if err != nil {
				errs = append(errs, fmt.Errorf("ICE server %d: %w", i, err))
				continue
			}
			e.minter = m
		}
		l.servers = append(l.servers, e)
	}
	if b := s.Builtin; b != nil {
		if b.Port < 1 || b.Port > 65535 {
			errs = append(errs, fmt.Errorf("built-in STUN port %d is not 1..65535", b.Port))
		}
		if b.Host != "" {
			if _, ok := Hostname(b.Host); !ok {
				errs = append(errs, fmt.Errorf("built-in STUN host %q is not a host name or IP address", b.Host))
			}
		}
	}
	return l, errors.Join(errs...)
}

// checkURL accepts what browsers accept in RTCIceServer.urls.
func checkURL(u string) error {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || rest == "" {
		return fmt.Errorf("url %q is not scheme:host[:port]", u)
	}
	switch scheme {
	case "stun", "stuns", "turn", "turns":
	default:
		return fmt.Errorf("url %q: scheme %q is not stun, stuns, turn or turns", u, scheme)
	}
	return nil
}

// ForViewer returns the servers for a viewer that reached the origin as
// reachedAs (the request's Host), with credentials minted for user.
func (l *List) ForViewer(reachedAs, user string, now time.Time) []wire.ICEServer {
	out := []wire.ICEServer{}
	if b := l.builtin; b != nil {
		host := b.Host
		if host == "" {
			host = reachedAs
		}
		if h, ok := Hostname(host); ok {
			hp := net.JoinHostPort(h, strconv.Itoa(b.Port))
			out = append(out, wire.ICEServer{URLs: []string{"stun:" + hp}})
			if b.TURN != nil {
				c := b.TURN.Mint(user, now)
				out = append(out, wire.ICEServer{URLs: []string{"turn:" + hp + "?transport=udp"}, Username: c.Username, Credential: c.Password})
			}
		}
	}
	for _, s := range l.servers {
		out = append(out, s.wire(user, now))
	}
	return out
}

// ForOrigin returns the listed servers that are not client-only, for the
// origin's own peers, with credentials minted for user. The built-in server
// is left out: it runs on the origin's own host.
func (l *List) ForOrigin(user string, now time.Time) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, s := range l.servers {
		if s.ClientOnly {
			continue
		}
		w := s.wire(user, now)
		out = append(out, webrtc.ICEServer{URLs: w.URLs, Username: w.Username, Credential: w.Credential})
	}
	return out
}

// HasTURN reports whether a viewer gets a TURN server.
func (l *List) HasTURN() bool {
	if l.builtin != nil && l.builtin.TURN != nil {
		return true
	}
	for _, s := range l.servers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
				return true
			}
		}
	}
	return false
}

// Count is how many servers a viewer gets.
func (l *List) Count() int {
	n := len(l.servers)
	if l.builtin != nil {
		n++
		if l.builtin.TURN != nil {
			n++
		}
	}
	return n
}

func (s server) wire(user string, now time.Time) wire.ICEServer {
	w := wire.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential}
	if s.minter != nil {
		c := s.minter.Mint(user, now)
		w.Username, w.Credential = c.Username, c.Password
	}
	return w
}

// Hostname returns the host part of a Host header or host name, ready for
// a STUN URL (IPv6 without brackets; JoinHostPort adds them), and whether
// it is a well-formed DNS name or IP address: a viewer's Host header is
// its own to choose, so nothing else goes into the URLs it is sent.
func Hostname(hostport string) (string, bool) {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		return a.String(), true
	}
	if h == "" || len(h) > 253 {
		return "", false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return "", false
			}
		}
	}
	return strings.ToLower(h), true
}
