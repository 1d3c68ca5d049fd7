package wire

import (
	"hash/fnv"
	"io"
)

// Rendezvous hashes a peer and a part for the choice of the peer that
// fetches the part over HTTP in a swarm the server does not seed: among a
// viewer and its active neighbours, the one RendezvousPick returns fetches
// it at once and the others wait for its HAVE. The Go viewer and the
// browser client (rendezvous in src/wire.js) must agree on the choice, or
// two neighbours fetch the same part (or neither does and both wait), so
// it is specified here exactly: FNV-1a (64 bit) of the UTF-8 bytes of
// peer, "/" and the part's text form, then the 64-bit finalizer of
// MurmurHash3. FNV alone mixes the trailing bytes poorly: the parts of one
// segment, which differ only in their last character, would all go to one
// peer.
func Rendezvous(peer PeerID, part PartID) uint64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, string(peer))
	_, _ = io.WriteString(h, "/")
	_, _ = io.WriteString(h, part.String())
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// RendezvousPick returns the peer among candidates with the lowest
// Rendezvous for part, the smaller id on a tie, so the choice does not
// depend on the candidates' order; "" when there are none.
func RendezvousPick(part PartID, candidates []PeerID) PeerID {
	var best PeerID
	var bestH uint64
	for i, id := range candidates {
		h := Rendezvous(id, part)
		if i == 0 || h < bestH || (h == bestH && id < best) {
			best, bestH = id, h
		}
	}
	return best
}
