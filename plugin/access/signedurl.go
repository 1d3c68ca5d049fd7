package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// URLSigner grants a stream's media to whoever holds a URL signed for it:
// a viewer whose playlist request was allowed gets media URIs carrying a
// signature, and a CDN in front of the origin may keep and serve those
// responses to every holder of the same URL. Every viewer of a stream gets
// the same signature within a window, so the CDN's cache is shared; a
// signature lasts one to two windows.
type URLSigner struct {
	key    [32]byte
	window time.Duration
}

// SignedURLParam is the query parameter that carries a signature.
const SignedURLParam = "sig"

// maxSignatureLen bounds what Verify reads of an untrusted signature.
const maxSignatureLen = 64

// NewURLSigner returns a signer with a random key, so signatures last only
// as long as this process; a viewer holding an older one still has its
// credentials to fall back on.
func NewURLSigner(window time.Duration) (*URLSigner, error) {
	if window < time.Second {
		return nil, fmt.Errorf("signed URL window %v is shorter than a second", window)
	}
	s := &URLSigner{window: window}
	if _, err := rand.Read(s.key[:]); err != nil {
		return nil, fmt.Errorf("making a signed URL key: %w", err)
	}
	return s, nil
}

// Sign returns the signature of the media of stream path at now.
func (s *URLSigner) Sign(path string, now time.Time) string {
	w := int64(s.window / time.Second)
	expires := (now.Unix()/w + 2) * w
	return strconv.FormatInt(expires, 36) + "." + s.mac(path, expires)
}

func (s *URLSigner) mac(path string, expires int64) string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(path))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Verify checks an untrusted signature of stream path's media at now.
func (s *URLSigner) Verify(path, sig string, now time.Time) error {
	if len(sig) > maxSignatureLen {
		return fmt.Errorf("signature of %d bytes is longer than %d", len(sig), maxSignatureLen)
	}
	exp, mac, ok := strings.Cut(sig, ".")
	if !ok {
		return errors.New("signature has no expiry")
	}
	expires, err := strconv.ParseInt(exp, 36, 64)
	if err != nil || strconv.FormatInt(expires, 36) != exp {
		// One spelling per expiry: another would be another URL, a CDN
		// cache entry each.
		return fmt.Errorf("signature expiry %q is not a base-36 time", exp)
	}
	if !hmac.Equal([]byte(mac), []byte(s.mac(path, expires))) {
		return errors.New("signature does not match the stream")
	}
	if now.Unix() >= expires {
		return fmt.Errorf("signature expired at %s", time.Unix(expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}
