package origin

import (
	"bytes"
	"net/http"
)

// heldWriter holds a response back until it is complete, for a wrapper
// that rewrites the body before it leaves (signing its URIs, compressing
// it).
type heldWriter struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (h *heldWriter) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}

func (h *heldWriter) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return h.body.Write(b)
}

// Flush is a no-op: nothing leaves before the body is complete.
func (h *heldWriter) Flush() {}

// send writes the held status and out, the rewritten body.
func (h *heldWriter) send(out []byte) {
	h.ResponseWriter.WriteHeader(h.code)
	_, _ = h.ResponseWriter.Write(out)
}
