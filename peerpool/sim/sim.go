package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/exchange"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Sim is one run in progress. It is not safe for concurrent use: a run is
// one goroutine working through its events.
type Sim struct {
	cfg    Config
	rand   *rand.Rand
	net    *network
	queue  queue
	now    time.Duration
	origin origin
	srv    server
	seeder *node

	nodes   []*node
	byID    map[wire.PeerID]*node
	live    []int32   // viewers present, in no particular order
	uploads []float64 // the mix's upload for each viewer made, in turn
	made    int       // viewers made so far
	hostile int

	relayBytes int64 // one connection's offer, answer and candidates through the server
	rep        tally
	events     int64
	err        error
}

// Run simulates cfg for its Duration and reports what it measured. When
// ctx ends first, it returns the report of the virtual time simulated so
// far (Report.Duration) with ctx's error.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("simulation config: %w", err)
	}
	start := time.Now()
	s, err := newSim(cfg.withDefaults())
	if err != nil {
		return Report{}, err
	}
	runErr := s.run(ctx)
	if s.err != nil {
		return Report{}, runErr
	}
	r := s.summary()
	r.Wall = time.Since(start)
	return r, runErr
}

func newSim(cfg Config) (*Sim, error) {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5157a2b3c4d5e6f7))
	s := &Sim{
		cfg:     cfg,
		rand:    r,
		net:     newNetwork(cfg, rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))),
		byID:    make(map[wire.PeerID]*node),
		uploads: cfg.Mix.Uploads(cfg.Peers),
	}
	s.origin = origin{cfg: cfg, salt: r.Uint64()}
	s.srv = newServer(s, rand.New(rand.NewPCG(r.Uint64(), r.Uint64())))
	var err error
	if s.relayBytes, err = relayBytes(); err != nil {
		return nil, err
	}
	seeder, err := s.newNode(true)
	if err != nil {
		return nil, err
	}
	s.seeder = seeder
	s.srv.core.AddSeed(s.at(s.now), cfg.Rendition, seeder.id) // starts the seed count's first window
	s.carryOut()
	return s, nil
}

// newNode makes the seeder or the next viewer, with its upload from the
// mix and, for a viewer, whether it is hostile.
func (s *Sim) newNode(seeder bool) (*node, error) {
	n := &node{idx: int32(len(s.nodes)), seeder: seeder, offeredAt: -1, asked: make(map[int32]bool), lastFrame: make(map[int32]time.Duration)}
	n.id = peerID(n.idx)
	mcfg := exchange.Config{ID: n.id, CanUpload: true, Seed: seeder, StoreParts: s.cfg.StoreParts}
	if !seeder {
		n.access = s.net.accessLatency()
		n.uploadX = s.uploads[s.made%len(s.uploads)]
		// Hostile viewers are spread evenly through the arrivals.
		h := s.cfg.Hostile
		n.hostile = int(float64(s.made+1)*h) > int(float64(s.made)*h)
		s.made++
		if n.hostile {
			s.hostile++
		}
		mcfg.CanUpload = n.uploadX > 0
		mcfg.UploadCapBps = s.uploadCap(n)
		n.play = &player{joinedAt: s.now}
	}
	m, err := exchange.New(mcfg, s.at(s.now))
	if err != nil {
		return nil, fmt.Errorf("making peer %d: %w", n.idx, err)
	}
	n.m = m
	s.nodes = append(s.nodes, n)
	s.byID[n.id] = n
	return n, nil
}

// uploadCap is n's upload cap in bytes per second.
func (s *Sim) uploadCap(n *node) int64 {
	return int64(n.uploadX * float64(s.cfg.BitrateBps) / 8)
}

// fail stops the run with the first error.
func (s *Sim) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (s *Sim) run(ctx context.Context) error {
	s.scheduleJoins()
	s.queue.push(event{at: 0, kind: evCut, part: 0})
	s.queue.push(event{at: s.cfg.TickEvery, kind: evTick})
	if s.cfg.ChurnPerMinute > 0 {
		s.queue.push(event{at: s.churnEvery(), kind: evChurn})
	}
	if s.cfg.Logger != nil {
		s.queue.push(event{at: s.cfg.ProgressEvery, kind: evProgress})
	}
	s.queue.push(event{at: s.cfg.SampleEvery, kind: evSample})
	var stopped error
	s.now = s.cfg.Duration
	for s.queue.len() > 0 && s.err == nil {
		if s.events%4096 == 0 {
			if err := ctx.Err(); err != nil {
				stopped = fmt.Errorf("simulation stopped at %v of %v: %w", s.now, s.cfg.Duration, err)
				break
			}
		}
		e := s.queue.pop()
		if e.at > s.cfg.Duration {
			s.now = s.cfg.Duration
			break
		}
		s.now = e.at
		s.events++
		s.dispatch(e)
	}
	if s.err != nil {
		return fmt.Errorf("simulation at %v: %w", s.now, s.err)
	}
	if len(s.rep.series) == 0 || s.rep.series[len(s.rep.series)-1].At < s.now {
		s.sample() // the last, shorter interval
	}
	for _, i := range s.live {
		s.finish(s.nodes[i])
	}
	return stopped
}

func (s *Sim) dispatch(e event) {
	switch e.kind {
	case evCut:
		s.cutPart(e.part)
		return
	case evTick:
		s.tick()
		s.queue.push(event{at: s.now + s.cfg.TickEvery, kind: evTick})
		return
	case evChurn:
		s.churn()
		s.queue.push(event{at: s.now + s.churnEvery(), kind: evChurn})
		return
	case evJoin:
		if _, err := s.arrive(); err != nil {
			s.fail(err)
		}
		return
	case evSample:
		s.sample()
		s.queue.push(event{at: s.now + s.cfg.SampleEvery, kind: evSample})
		return
	case evProgress:
		s.cfg.Logger.Info("simulating", "virtual", s.now, "of", s.cfg.Duration, "viewers", len(s.live),
			"events", s.events, "seeds", s.srv.core.Seeds(s.cfg.Rendition))
		s.queue.push(event{at: s.now + s.cfg.ProgressEvery, kind: evProgress})
		return
	}
	n := s.nodes[e.node]
	if n.gone {
		return
	}
	now := s.at(s.now)
	switch e.kind {
	case evDeadline:
		if e.at != n.deadline {
			return // superseded by an earlier one
		}
		n.deadline = 0
		n.m.Advance(now)
	case evFrame:
		n.m.Receive(now, s.nodes[e.from].id, e.data, false)
	case evOpen:
		s.open(n, s.nodes[e.from])
		return
	case evClosed:
		n.m.Closed(now, s.nodes[e.from].id, "closed by the other side")
	case evSignal:
		s.signal(n, e.msg)
	case evUp:
		switch m := e.msg.(type) {
		case *wire.Report:
			s.report(n, m)
		case *wire.Stats:
			s.stats(n, m)
		}
	case evStats:
		s.sendStats(n)
	case evPeerWait:
		s.peerWaitOver(n, e.part)
	case evHTTP:
		s.httpDone(n, e.part, int(e.size))
	case evPlay:
		s.playReached(n, e.part)
	}
	s.drive(n)
}

// signal acts on a message from the server reaching viewer n.
func (s *Sim) signal(n *node, m wire.Signal) {
	now := s.at(s.now)
	switch m := m.(type) {
	case *wire.Peers:
		if n.banned {
			return
		}
		if len(m.Add) > 0 && n.offeredAt < 0 {
			n.offeredAt = s.now
		}
		n.m.SetNeighbours(now, m.Add, m.Remove)
	case *wire.PartAnnounce:
		s.announced(n, m)
	}
}

// arrive makes a viewer and has it join: its WebSocket reaches the server
// after its latency, and it reports its stats from then on.
func (s *Sim) arrive() (*node, error) {
	n, err := s.newNode(false)
	if err != nil {
		return nil, err
	}
	n.joinedAt = s.now
	n.play.first = s.startAt()
	n.play.next = n.play.first
	s.live = append(s.live, n.idx)
	s.join(n)
	s.queue.push(event{at: s.now + s.cfg.StatsEvery/2 + time.Duration(s.rand.Int64N(int64(s.cfg.StatsEvery))), kind: evStats, node: n.idx})
	return n, nil
}

// depart takes viewer n out of the run: its connections close and its
// session ends.
func (s *Sim) depart(n *node) {
	s.finish(n)
	s.leave(n)
	n.m.Close(s.at(s.now))
	s.drive(n)
	n.gone = true
	s.live = removeNode(s.live, n.idx)
}

// scheduleJoins spreads the first viewers' arrivals over the join window:
// evenly for steady joins, at random for a flash crowd.
func (s *Sim) scheduleJoins() {
	w := s.cfg.JoinWindow
	for i := range s.cfg.Peers {
		at := time.Duration(0)
		switch {
		case w <= 0:
		case s.cfg.Steady:
			at = w * time.Duration(i) / time.Duration(s.cfg.Peers)
		default:
			at = time.Duration(s.rand.Int64N(int64(w)))
		}
		s.queue.push(event{at: at, kind: evJoin})
	}
}

// churnEvery is the time between two replacements.
func (s *Sim) churnEvery() time.Duration {
	perMinute := s.cfg.ChurnPerMinute * float64(s.cfg.Peers)
	return max(time.Duration(float64(time.Minute)/perMinute), time.Millisecond)
}

// churn replaces a random viewer with a newcomer.
func (s *Sim) churn() {
	if len(s.live) == 0 {
		return
	}
	s.depart(s.nodes[s.live[s.rand.IntN(len(s.live))]])
	if _, err := s.arrive(); err != nil {
		s.fail(err)
	}
}

// relayBytes is what the server forwards to open one connection: an offer
// and an answer of a data-channel-only session description and a few ICE
// candidates each way.
func relayBytes() (int64, error) {
	from := peerID(1)
	sdp := func(typ string) *wire.Relay {
		return &wire.Relay{From: from, SDP: &wire.SDP{Type: typ, SDP: exampleSDP}}
	}
	cand := &wire.Relay{From: from, Candidate: &wire.Candidate{Candidate: exampleCandidate, SDPMid: "0"}}
	var total int64
	for _, m := range []wire.Signal{sdp("offer"), sdp("answer"), cand, cand, cand, cand} {
		data, err := wire.EncodeSignal(m)
		if err != nil {
			return 0, fmt.Errorf("encoding an example relay: %w", err)
		}
		total += int64(len(data))
	}
	return total, nil
}

// exampleSDP is a data-channel-only session description as a browser
// writes one.
const exampleSDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"a=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"c=IN IP4 0.0.0.0\r\na=ice-ufrag:Qk5f\r\na=ice-pwd:7hVtE5LR9YwZJ3mKx0pDq2sN\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 3B:6E:A1:9C:0D:54:7F:22:E8:B1:49:C3:60:5A:F7:1D:88:2E:93:04:BC:6A:D5:17:F0:39:4E:A8:C2:65:1B:7D\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"

const exampleCandidate = "candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 192.168.1.20 rport 54321 generation 0 ufrag Qk5f network-cost 999"

// sample adds to the series what the server sent since the last sample.
func (s *Sim) sample() {
	t := &s.rep
	seed := s.seeder.m.Stats().BytesSent
	t.series = append(t.series, Sample{At: s.now, Viewers: len(s.live),
		SeedBytes: seed - t.sampled.SeedBytes, HTTPBytes: t.httpBytes - t.sampled.HTTPBytes, SignalOutBytes: t.signalOut - t.sampled.SignalOutBytes})
	t.sampled = Sample{SeedBytes: seed, HTTPBytes: t.httpBytes, SignalOutBytes: t.signalOut}
}

// summary turns the tally into the Report.
func (s *Sim) summary() Report {
	t := &s.rep
	media := float64(t.mediaBytes)
	seedBytes := s.seeder.m.Stats().BytesSent
	r := Report{
		Peers: s.cfg.Peers, Joined: s.made, Duration: s.now, Seed: s.cfg.Seed,
		Parts: t.parts, MediaBytes: t.mediaBytes,
		SeedBytes: seedBytes, HTTPBytes: t.httpBytes, StartupHTTPBytes: t.startupHTTPBytes, Fallbacks: t.fallbacks, SignalOutBytes: t.signalOut, SignalInBytes: t.signalIn,
		SeedCopies: ratio(float64(seedBytes), media), HTTPCopies: ratio(float64(t.httpBytes), media),
		P2PShare:   ratio(float64(t.honestP2P), float64(t.honestP2P+t.honestHTTP)),
		StallRatio: ratio(float64(t.stalled), float64(t.watched)),
		Viewers:    t.viewersWatched, ViewersStalled: t.viewersStalled, Stalls: t.stalls,
		Deadline:    time.Duration(s.cfg.HoldBack-1) * s.cfg.PartDuration,
		DeliveryP50: time.Duration(t.delivery.quantile(0.5)) * time.Millisecond,
		DeliveryP95: time.Duration(t.delivery.quantile(0.95)) * time.Millisecond,
		DepthP50:    t.depth.quantile(0.5), DepthMax: t.depth.maxBucket(),
		Seeds:   s.srv.core.Seeds(s.cfg.Rendition),
		Hostile: s.hostile, HostileBanned: t.HostileBanned, HonestBanned: t.HonestBanned,
		Series: t.series,
		Events: s.events,
	}
	r.OnTime = ratio(float64(t.onTime), float64(t.deliveries))
	r.LagP50 = time.Duration(t.lag.quantile(0.5)) * time.Millisecond
	r.StartupP50 = time.Duration(t.startup.quantile(0.5)) * time.Millisecond
	r.ServerCopies = r.SeedCopies + r.HTTPCopies
	r.PlayingCopies = ratio(float64(seedBytes+t.httpBytes-t.startupHTTPBytes), media)
	r.TotalCopies = ratio(float64(seedBytes+t.httpBytes+t.signalOut), media)
	return r
}
