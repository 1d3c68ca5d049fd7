// Package peerpool is swarmtx's WebRTC peer pool: viewers of a stream pass
// its LL-HLS parts to each other so the server sends only a few copies.
// Its packages, from the protocol inward to the drivers:
//
//   - wire: the protocol (signaling messages, data-channel frames, shared
//     limits, verified reassembly of parts);
//   - exchange: one peer's decisions, as a state machine without I/O, in
//     Go and (client/src/exchange.js) in the browser, both driven by the
//     same scenario vectors;
//   - tracker and trust: the server's decisions about the mesh and about
//     whose word to act on, also without I/O;
//   - netid: the network a viewer comes from, for per-network limits;
//   - peer: the pion/webrtc driver of an exchange, used by the Go viewer
//     (viewer), the relay (relay) and the server's seeders;
//   - signal: the server's WebSocket front door, which drives the tracker
//     and trust from a ticker;
//   - client: the browser player and its swarm driver.
package peerpool
