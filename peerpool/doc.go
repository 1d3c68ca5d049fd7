// Package peerpool will hold swarmtx's WebRTC peer pool: signaling and
// tracking per stream, the plugin as seeding peer, integrity checks and
// the Go peer. It is not implemented yet; until it is, every viewer is
// served over HTTP by the LL-HLS origin in bridge/llhls.
package peerpool
