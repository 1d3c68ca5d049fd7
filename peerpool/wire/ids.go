package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
)

// PeerID names one session in a swarm: 16 random bytes written as 32
// lower-case hex characters. The empty PeerID means "absent" and is never
// valid in a message.
type PeerID string

// NewPeerID returns a fresh random PeerID from crypto/rand.
func NewPeerID() PeerID {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (Go ≥ 1.24)
	return PeerID(hex.EncodeToString(b[:]))
}

// ParsePeerID checks that s is 32 lower-case hex characters. Upper case is
// rejected so that every peer has exactly one id string.
func ParsePeerID(s string) (PeerID, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("peer id %s is %d characters, want 32 lower-case hex", quoteShort(s), len(s))
	}
	if err := checkLowerHex(s); err != nil {
		return "", fmt.Errorf("peer id %s: %w", quoteShort(s), err)
	}
	return PeerID(s), nil
}

// Validate is ParsePeerID for a PeerID that came from JSON.
func (id PeerID) Validate() error {
	_, err := ParsePeerID(string(id))
	return err
}

// Hash is a SHA-256 digest, written as 64 lower-case hex characters.
type Hash [32]byte

// ParseHash parses 64 lower-case hex characters.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return Hash{}, fmt.Errorf("sha256 %s is %d characters, want 64 lower-case hex", quoteShort(s), len(s))
	}
	if err := decodeLowerHex(h[:], s); err != nil {
		return Hash{}, fmt.Errorf("sha256 %s: %w", quoteShort(s), err)
	}
	return h, nil
}

// String returns the 64-character hex form.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseHash's rules.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

func checkLowerHex(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("character %q at %d is not lower-case hex", c, i)
		}
	}
	return nil
}

func decodeLowerHex(dst []byte, s string) error {
	if err := checkLowerHex(s); err != nil {
		return err
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

// Part identity limits.
const (
	// MaxRenditionName is the longest rendition name (bytes).
	MaxRenditionName = 32
	// MaxPartIndex is the largest part index within a media segment.
	MaxPartIndex = 1000
	// MaxMSN is the largest media sequence number: 2^53−1, so that a
	// JavaScript number holds every MSN exactly.
	MaxMSN = 1<<53 - 1
)

// PartID names one LL-HLS part: rendition, media sequence number of its
// segment, and index within that segment (the part<msn>.<index>.m4s file
// of that rendition's playlist). JSON form: {"r":"720p","msn":123,"i":2}.
type PartID struct {
	Rendition string `json:"r"`
	MSN       uint64 `json:"msn"`
	Index     int    `json:"i"`
}

// Validate checks the rendition name (1..MaxRenditionName of a-z and 0-9,
// not "index", which would name the stream's multivariant playlist),
// MSN ≤ MaxMSN and 0 ≤ Index ≤ MaxPartIndex.
func (p PartID) Validate() error {
	if len(p.Rendition) > MaxRenditionName {
		return fmt.Errorf("part id: rendition name %s is %d bytes, longer than %d", quoteShort(p.Rendition), len(p.Rendition), MaxRenditionName)
	}
	if err := validRenditionName(p.Rendition); err != nil {
		return fmt.Errorf("part id: %w", err)
	}
	if p.MSN > MaxMSN {
		return fmt.Errorf("part id: msn %d is above %d", p.MSN, uint64(MaxMSN))
	}
	if p.Index < 0 || p.Index > MaxPartIndex {
		return fmt.Errorf("part id: index %d is outside 0..%d", p.Index, MaxPartIndex)
	}
	return nil
}

// String returns "rendition/msn.index", e.g. "720p/123.2".
func (p PartID) String() string {
	b := make([]byte, 0, len(p.Rendition)+24)
	b = append(b, p.Rendition...)
	b = append(b, '/')
	b = strconv.AppendUint(b, p.MSN, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(p.Index), 10)
	return string(b)
}

// quoteShort quotes untrusted text for an error message, cut to 40 bytes so
// that an error never echoes a large input.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(Truncate(s, max)) + "…"
	}
	return strconv.Quote(s)
}

// validRenditionName is the LL-HLS origin's rule for rendition names, which
// are path segments of its URLs: the protocol names parts by those paths.
func validRenditionName(n string) error {
	if n == "" || n == "index" {
		return fmt.Errorf("rendition name %s is empty or reserved", quoteShort(n))
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("rendition name %s may have only a-z and 0-9", quoteShort(n))
		}
	}
	return nil
}
