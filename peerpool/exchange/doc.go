// Package exchange is the peer protocol of swarmtx as a state machine
// without I/O: the decisions one peer makes about the parts it moves with
// its neighbours, and nothing else. It owns no connection, goroutine, lock
// or clock.
//
// Events go in as method calls, each given the current time:
//
//   - SetNeighbours, Opened and Closed: the tracker's neighbours and their
//     data channels;
//   - Receive: a frame from a neighbour;
//   - Expect: the server's announcement of a part (size and hashes);
//   - Offer: a part this peer trusts (fetched over HTTP, or cut by the
//     server);
//   - Want and Unwant: the player needs a part, or no longer;
//   - Advance: time passed (call it at Deadline).
//
// Actions come out of Poll (connect, disconnect, report to the server,
// deliver a verified part, a wanted part is here or is not coming, a
// neighbour has frames to send) and Transmit, which hands out a
// neighbour's next frame when its channel and the upload cap have room.
//
// The pion peer (peerpool/peer), hence the Go viewer, the relay and the
// plugin's seeders, drive one Machine each. The tests drive it directly:
// the scenario vectors in testdata/vectors (which also drive the browser
// client's exchange in Node), a swarm of Machines on a virtual clock
// (sim_test.go) and a fuzz target.
//
// Exchange is receiver-driven with seed pushes: a peer that holds verified
// bytes of a part tells its neighbours HAVE; a Want asks one neighbour that
// has it (best measured throughput first) with WANT and moves on after
// NOPE or a stall; a seed pushes every part it is offered to all its
// neighbours. Bytes are accepted only for parts announced with Expect and
// are reassembled and verified by wire.Assembler. A neighbour that sends
// bytes that do not hash to the announcement, or breaks the frame rules,
// is disconnected, banned and reported; one that takes WANTs and never
// delivers, or never opens its channel, is disconnected and reported as
// "timeout".
package exchange
