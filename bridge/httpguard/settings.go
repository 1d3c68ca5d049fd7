// Package httpguard keeps the plugin's HTTP origin serving honest viewers
// while hostile ones try to tie it up: responses must keep moving or their
// connection is closed, requests held open (blocking playlist reloads,
// preload hints) are bounded per network and overall, and so are open
// connections per network.
package httpguard

import (
	"fmt"
	"log/slog"
	"time"
)

// Config keys of swarmtx's YAML that set these limits; refusals name them
// so an operator knows what to raise.
const (
	KeyMinSendRate        = "httpMinSendRate"
	KeySendGrace          = "httpSendGrace"
	KeyMaxConnsPerNetwork = "httpMaxConnsPerNetwork"
	KeyMaxHeldPerNetwork  = "httpMaxHeldPerNetwork"
	KeyMaxHeld            = "httpMaxHeld"
)

// Settings are the origin's limits. A zero field takes its default.
type Settings struct {
	// MinSendRate is the rate, in bytes per second, a response must be
	// taken at after SendGrace; a reader slower than that is cut off.
	MinSendRate int
	// SendGrace is how long a response may take beyond MinSendRate: the
	// allowance for a slow start, a hiccup or a small response.
	SendGrace time.Duration
	// ReadHeaderTimeout bounds reading a request's headers; ReadTimeout
	// bounds reading a whole request with its body; IdleTimeout closes a
	// keep-alive connection that sends no new request.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// MaxConnsPerNetwork bounds the open connections from one network
	// (IPv4 address, IPv6 /64). Loopback is exempt: a reverse proxy on
	// this host is many viewers, limited per request instead.
	MaxConnsPerNetwork int
	// MaxHeldPerNetwork bounds the requests from one network held open
	// waiting for media at once; MaxHeld bounds them overall.
	MaxHeldPerNetwork int
	MaxHeld           int
	Logger            *slog.Logger
}

// Defaults for Settings.
const (
	DefaultMinSendRate        = 8 << 10
	DefaultSendGrace          = 5 * time.Second
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultMaxConnsPerNetwork = 256
	DefaultMaxHeldPerNetwork  = 128
	DefaultMaxHeld            = 10000
)

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&s.MinSendRate, DefaultMinSendRate)
	def(&s.SendGrace, DefaultSendGrace)
	def(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&s.ReadTimeout, DefaultReadTimeout)
	def(&s.IdleTimeout, DefaultIdleTimeout)
	defInt(&s.MaxConnsPerNetwork, DefaultMaxConnsPerNetwork)
	defInt(&s.MaxHeldPerNetwork, DefaultMaxHeldPerNetwork)
	defInt(&s.MaxHeld, DefaultMaxHeld)
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s
}

// sendAllowance is how long n bytes of one response may take to leave.
func (s Settings) sendAllowance(n int64) time.Duration {
	return s.SendGrace + time.Duration(float64(n)/float64(s.MinSendRate)*float64(time.Second))
}

func (s Settings) String() string {
	return fmt.Sprintf("min send rate %d B/s after %v, %d connections and %d held requests per network, %d held in all",
		s.MinSendRate, s.SendGrace, s.MaxConnsPerNetwork, s.MaxHeldPerNetwork, s.MaxHeld)
}
