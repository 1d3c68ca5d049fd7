package httpguard

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// sendChunk is how much of a response is handed to the connection under
// one write deadline, so a reader that stops is noticed within a chunk.
const sendChunk = 16 << 10

// progress wraps a handler so that its response must keep moving: every
// write gets a deadline from the bytes sent so far (Settings.sendAllowance
// minus the time already spent writing), so a reader slower than
// MinSendRate after SendGrace times out and its connection is closed.
// Time the handler spends before or between writes (a blocking reload
// waiting for its part) is not the reader's and does not count.
func progress(s Settings, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body == nil || r.Body == http.NoBody {
			// The server's ReadTimeout is for reading the request; a request
			// without a body has been read, and the deadline left pending
			// would cancel a blocking reload that waits longer.
			_ = rc.SetReadDeadline(time.Time{})
		}
		pw := &progressWriter{ResponseWriter: w, rc: rc, s: s}
		next.ServeHTTP(pw, r)
		if !pw.hijacked {
			// What is still buffered is flushed after we return, under this.
			_ = rc.SetWriteDeadline(pw.deadline(time.Now(), 0))
		}
	})
}

type progressWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	s        Settings
	sent     int64         // bytes handed to the connection
	busy     time.Duration // time spent in writes
	hijacked bool
}

// deadline is when handing n more bytes to the connection must be done:
// the response as a whole must keep to MinSendRate after SendGrace, and
// so must these n bytes alone, so that a reader that took the first bytes
// quickly cannot then stall on the credit.
func (p *progressWriter) deadline(now time.Time, n int64) time.Time {
	whole := p.s.sendAllowance(p.sent+n) - p.busy
	return now.Add(min(whole, p.s.sendAllowance(n)))
}

func (p *progressWriter) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n := min(len(b), sendChunk)
		start := time.Now()
		_ = p.rc.SetWriteDeadline(p.deadline(start, int64(n)))
		m, err := p.ResponseWriter.Write(b[:n])
		p.busy += time.Since(start)
		p.sent += int64(m)
		total += m
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

// FlushError flushes under the same deadline as writes; http.ResponseController
// finds it before Unwrap.
func (p *progressWriter) FlushError() error {
	start := time.Now()
	_ = p.rc.SetWriteDeadline(p.deadline(start, 0))
	err := p.rc.Flush()
	p.busy += time.Since(start)
	return err
}

// Flush implements http.Flusher for handlers that assert it.
func (p *progressWriter) Flush() { _ = p.FlushError() }

// Hijack hands the connection over without the deadlines set for HTTP:
// its new owner (the swarm's WebSocket) keeps its own.
func (p *progressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := p.rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	p.hijacked = true
	_ = c.SetDeadline(time.Time{})
	return c, brw, nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
