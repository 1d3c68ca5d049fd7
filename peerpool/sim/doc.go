// Package sim runs a swarm of viewers on a virtual clock to see what the
// peer protocol does at sizes no test bed can reach. It drives the real
// I/O-free core: every viewer and the server's seeder are
// exchange.Machines, the server's side is the signaling hub's own
// signal.Core, which calls the production tracker (tracker.Swarm), trust
// ledger (trust.Ledger) and seed count (seeding.Count), and every
// signaling message is the real wire message, encoded to count its bytes. Only the world around them is modelled: an
// origin that cuts parts on time, links with latency, jitter and NATs that
// block some pairs, uplinks drawn from an upload mix, viewers joining,
// leaving and playing, and hostile viewers that corrupt what they send.
//
// A run is one goroutine working through a heap of timed events: no wall
// clock, no network, no randomness but the seeded one, so a seed names one
// run and the same seed gives the same report.
package sim
