package httpguard

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// NewServer returns an http.Server for h with s's limits: read and idle
// timeouts, and responses that must keep moving (progress). Serve it on a
// listener from LimitListener.
func NewServer(h http.Handler, s Settings) *http.Server {
	s = s.WithDefaults()
	return &http.Server{
		Handler:           progress(s, h),
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		IdleTimeout:       s.IdleTimeout,
		ConnState: func(c net.Conn, state http.ConnState) {
			if state == http.StateActive {
				// The server's own answers (400 for a malformed request, 431)
				// are written before any handler sets a deadline.
				_ = c.SetWriteDeadline(time.Now().Add(s.SendGrace))
			}
		},
		ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelDebug),
	}
}
