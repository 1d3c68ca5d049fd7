package httpguard

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync"

	"github.com/swarmtx/swarmtx/peerpool/netid"
)

// Holds bounds the requests held open waiting for media (blocking
// playlist reloads, preload-hinted parts): each costs a goroutine and a
// connection for up to three target durations while sending nothing, so
// they are the cheapest way to tie the origin up. Safe for concurrent use.
type Holds struct {
	perNetwork, total int

	mu        sync.Mutex
	byNetwork map[netip.Prefix]int
	held      int
}

// NewHolds returns the bounds of s (MaxHeldPerNetwork, MaxHeld).
func NewHolds(s Settings) *Holds {
	s = s.WithDefaults()
	return &Holds{perNetwork: s.MaxHeldPerNetwork, total: s.MaxHeld, byNetwork: make(map[netip.Prefix]int)}
}

// Hold takes a slot for r for as long as it is held. When r is over a
// bound it answers 429 itself and returns ok false; otherwise the caller
// must call release when r stops waiting. A nil Holds bounds nothing.
func (h *Holds) Hold(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if h == nil {
		return func() {}, true
	}
	network := netid.Of(r)
	h.mu.Lock()
	var refusal string
	switch {
	case h.held >= h.total:
		refusal = fmt.Sprintf("too many requests are waiting for media: at most %d are held at once (config key %s)",
			h.total, KeyMaxHeld)
	case h.byNetwork[network] >= h.perNetwork:
		refusal = fmt.Sprintf("too many requests from network %s are waiting for media: at most %d are held at once per network (config key %s)",
			network, h.perNetwork, KeyMaxHeldPerNetwork)
	default:
		h.held++
		h.byNetwork[network]++
	}
	h.mu.Unlock()
	if refusal != "" {
		hd := w.Header()
		hd.Set("Retry-After", strconv.Itoa(1))
		hd.Set("Cache-Control", "no-store")
		http.Error(w, refusal, http.StatusTooManyRequests)
		return nil, false
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.held--
			if h.byNetwork[network]--; h.byNetwork[network] <= 0 {
				delete(h.byNetwork, network)
			}
		})
	}, true
}

// Held returns the requests held in all and from network.
func (h *Holds) Held(network netip.Prefix) (all, fromNetwork int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held, h.byNetwork[network]
}
