package signal

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/swarmtx/swarmtx/peerpool/seeding"
	"github.com/swarmtx/swarmtx/peerpool/tracker"
	"github.com/swarmtx/swarmtx/peerpool/trust"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Core is what the hub decides, without its I/O: events go in (a viewer
// joins, leaves, sends stats, a report, a relay or a rendition switch; a
// part is cut; the periodic tick comes), each with the time, and what to
// do comes out of Poll (a message to a viewer, a session to end, the
// seeder's neighbours, a relay for the seeder). It calls the tracker, the
// trust ledger and the seed count, and nothing else: no clock, no
// goroutine, no lock, no socket. The Hub drives it with WebSockets in
// production; the swarm simulator (peerpool/sim) drives the same Core on
// a virtual clock, so the two cannot drift apart.
//
// Events for one viewer are identified by the id the driver gave it at
// Join. A Core is not safe for concurrent use: the driver serialises
// calls and polls after each.
type Core struct {
	cfg    Config
	log    *slog.Logger
	mesh   Mesh
	ledger *trust.Ledger

	members map[wire.PeerID]*member
	// order holds the joined members in a fixed order (of joining, a
	// leaver's place taken by the last to join): announcements and ticks
	// go through it, so the same events give the same outputs.
	order      []*member
	renditions map[string]*audience            // by rendition
	recent     map[string][]*wire.PartAnnounce // by rendition, oldest first
	seeds      map[string]*localSeed           // by rendition
	seedIDs    map[wire.PeerID]*localSeed
	bans       addressBans
	networks   map[netip.Prefix]int           // joined sessions per network
	joinRate   map[netip.Prefix]*rate.Limiter // joins per network
	credit     map[wire.PeerID]int64          // confirmed upload since the last tick
	unproven   map[netip.Prefix]int           // sessions on probation in the mesh, per network
	held       map[netip.Prefix][]*member     // sessions waiting outside the mesh, per network
	lastTick   time.Time
	announced  int64 // media bytes announced, all renditions

	out []Output
}

// audience counts a rendition's members, and those that upload: enough to
// know whether the seeder could have more targets without looking at
// every member.
type audience struct {
	viewers, uploaders int
}

// localSeed is the plugin's seeding peer for one rendition and the viewers
// it pushes to.
type localSeed struct {
	id        wire.PeerID
	rendition string
	targets   map[wire.PeerID]bool
	count     seeding.Count
}

// member is one joined viewer as the Core knows it.
type member struct {
	id        wire.PeerID
	pos       int    // index in Core.order
	remote    string // for logs
	reachedAs string // the Host it reached the hub by
	network   netip.Prefix

	rendition   string
	canUpload   bool
	uploadCap   int64
	neighbours  map[wire.PeerID]bool
	lastStats   wire.Stats
	conns       connCounts // its open connections by type, from its last stats (paths.go)
	joinedAt    time.Time
	counted     bool   // in Core.networks
	announced   int64  // Core.announced at the last stats
	accusedOf   string // the last reason a neighbour reported it for that may ban
	unreachable bool   // shunned: neighbours got nothing from it, or it reached none
	// timedOutEarly: reported as giving nothing before it had been in the
	// swarm for measureAfter; Tick judges it once it has.
	timedOutEarly bool
	// Probation (probation.go): admitted to the mesh, proven by a viewer
	// on another network, or taken off its network's probation count.
	admitted, proven, offProbation bool
	// vouching: proven from outside its network (or by one so proven), so
	// its word counts for its own network's sessions.
	vouching bool
}

// Output is something the Core asks its driver to do: Send, End,
// SeedNeighbours or SeedRelay.
type Output interface{ isOutput() }

// Send is a message for a viewer.
type Send struct {
	To  wire.PeerID
	Msg wire.Signal
}

// End closes a viewer's session, telling it Reason. The Core has already
// forgotten it. Ban is the reason it was banned for, when it was.
type End struct {
	Peer   wire.PeerID
	Reason string
	Ban    string
}

// SeedNeighbours changes a seeder's targets (LocalPeer.SetNeighbours).
type SeedNeighbours struct {
	Seed   wire.PeerID
	Add    []wire.PeerInfo
	Remove []wire.PeerID
}

// SeedRelay is a viewer's offer, answer or candidate for a seeder
// (LocalPeer.HandleRelay).
type SeedRelay struct {
	Seed  wire.PeerID
	Relay *wire.Relay
}

func (Send) isOutput()           {}
func (End) isOutput()            {}
func (SeedNeighbours) isOutput() {}
func (SeedRelay) isOutput()      {}

// From is where a joining viewer comes from, as its connection tells.
type From struct {
	// Network is what a ban of the viewer covers and what per-network
	// limits count (netid); the zero prefix names none.
	Network netip.Prefix
	// Remote is its address, for logs; ReachedAs the Host it reached the
	// hub by (Config.ICEServers).
	Remote, ReachedAs string
}

// NewCore returns the decisions of a stream's hub, its clock at now.
func NewCore(now time.Time, cfg Config, mesh Mesh) *Core {
	cfg = cfg.withDefaults()
	return &Core{
		cfg:        cfg,
		log:        cfg.Logger,
		mesh:       mesh,
		ledger:     trust.New(cfg.Trust),
		members:    make(map[wire.PeerID]*member),
		renditions: make(map[string]*audience),
		recent:     make(map[string][]*wire.PartAnnounce),
		seeds:      make(map[string]*localSeed),
		seedIDs:    make(map[wire.PeerID]*localSeed),
		bans:       make(addressBans),
		networks:   make(map[netip.Prefix]int),
		joinRate:   make(map[netip.Prefix]*rate.Limiter),
		credit:     make(map[wire.PeerID]int64),
		unproven:   make(map[netip.Prefix]int),
		held:       make(map[netip.Prefix][]*member),
		lastTick:   now,
	}
}

// Poll returns the next thing to do, or false when there is none.
func (c *Core) Poll() (Output, bool) {
	if len(c.out) == 0 {
		c.out = c.out[:0]
		return nil, false
	}
	o := c.out[0]
	c.out[0] = nil
	c.out = c.out[1:]
	return o, true
}

func (c *Core) send(to *member, m wire.Signal) { c.out = append(c.out, Send{To: to.id, Msg: m}) }

// Viewers is the number of joined viewers.
func (c *Core) Viewers() int { return len(c.members) }

// Seeds is the seed count of a rendition (0 without a seeder).
func (c *Core) Seeds(rendition string) int {
	if ls := c.seeds[rendition]; ls != nil {
		return ls.count.N()
	}
	return 0
}

// Neighbours is how many neighbours the viewer was given and still has.
func (c *Core) Neighbours(id wire.PeerID) int {
	if m := c.members[id]; m != nil {
		return len(m.neighbours)
	}
	return 0
}

// Join admits viewer id into the swarm: it is sent its welcome, its
// neighbours and the rendition's recent announcements. It returns why the
// viewer was refused, or "" when it joined.
func (c *Core) Join(now time.Time, id wire.PeerID, j *wire.Join, from From) (refused string) {
	if len(c.members) >= c.cfg.MaxViewers {
		return fmt.Sprintf("the swarm is full (%d viewers)", c.cfg.MaxViewers)
	}
	if c.members[id] != nil {
		return "that peer id has joined already"
	}
	m := &member{id: id, remote: from.Remote, reachedAs: from.ReachedAs, network: from.Network, neighbours: make(map[wire.PeerID]bool)}
	// Loopback is a reverse proxy on this host that does not say whom it
	// forwards: its viewers are not one network.
	if limitedNetwork(m.network) {
		if n := c.networks[m.network]; n >= c.cfg.MaxSessionsPerNetwork {
			return fmt.Sprintf("too many swarm sessions from your network %s (%d, the limit; config key swarmMaxSessionsPerNetwork)", m.network, n)
		}
		if !c.joinLimiter(m.network).AllowN(now, 1) {
			return fmt.Sprintf("too many joins from your network %s (more than %g per second; config key swarmJoinsPerSecondPerNetwork)", m.network, c.cfg.JoinsPerSecondPerNetwork)
		}
		c.networks[m.network]++
		m.counted = true
	}
	m.rendition = j.Rendition
	m.canUpload = j.Upload.Enabled && !j.SaveData
	m.uploadCap = j.Upload.CapBps
	if m.canUpload && c.bans.banned(m.network, now) {
		m.canUpload = false
		c.log.Info("viewer may only receive: its network was banned", "peer", m.id, "remote", m.remote, "network", m.network)
	}
	if rate := c.bitrate(m.rendition); m.canUpload && m.uploadCap > 0 && rate > 0 && m.uploadCap < rate*leafBelow/100 {
		// An uplink well below the stream's rate cannot pass a part on
		// before the next is due: whoever asks it waits, and every viewer
		// below it falls back to HTTP. Kept as a leaf, it takes parts from
		// faster neighbours and holds nobody up. One near the rate still
		// uploads: where every viewer's uplink is about the bit rate, the
		// swarm has nothing else to carry it, and the rate measured over
		// parts swings above and below its mean.
		m.canUpload = false
		c.log.Debug("viewer may only receive: its upload is well below the rendition's bit rate", "peer", m.id, "capBps", m.uploadCap, "rateBps", rate)
	}
	c.members[id] = m
	m.pos = len(c.order)
	c.order = append(c.order, m)
	c.audienceOf(m.rendition).add(m, 1)
	c.ledger.Join(trust.ID(m.id), m.network)
	m.joinedAt = now
	m.announced = c.announced
	policy := "all"
	if c.cfg.RelayOnly || j.TurnOnly {
		policy = "relay"
	}
	ice := []wire.ICEServer{}
	if c.cfg.ICEServers != nil {
		ice = c.cfg.ICEServers(m.reachedAs, m.id)
	}
	c.send(m, &wire.Welcome{
		V:                  wire.ProtocolVersion,
		ID:                 m.id,
		ICE:                ice,
		ICETransportPolicy: policy,
		PartTargetMs:       int(c.cfg.PartTarget / time.Millisecond),
		MaxFrame:           c.cfg.MaxFrame,
	})
	c.admitOrHold(m)
	c.sendRecent(m)
	c.viewersChanged()
	if c.seedsShort() {
		c.refreshSeeds(now)
	}
	c.log.Debug("viewer joined", "peer", m.id, "remote", m.remote, "rendition", j.Rendition)
	return ""
}

// leafBelow is the share of a rendition's bit rate, in percent, below
// which a viewer's declared upload makes it a leaf.
const leafBelow = 75

// bitrate is a rendition's media bytes per second over its recent
// parts, 0 while none is known.
func (c *Core) bitrate(rendition string) int64 {
	var bytes, ms int64
	for _, a := range c.recent[rendition] {
		bytes += int64(a.Size)
		ms += int64(a.DurationMs)
	}
	if ms <= 0 {
		return 0
	}
	return bytes * 1000 / ms
}

func (a *audience) add(m *member, d int) {
	a.viewers += d
	if m.canUpload {
		a.uploaders += d
	}
}

func (c *Core) audienceOf(rendition string) *audience {
	a := c.renditions[rendition]
	if a == nil {
		a = &audience{}
		c.renditions[rendition] = a
	}
	return a
}

// Leave takes a viewer whose session ended out of the swarm; one the Core
// ended itself is gone already.
func (c *Core) Leave(now time.Time, id wire.PeerID) {
	m := c.members[id]
	if m == nil {
		return
	}
	wasTarget := c.remove(m)
	c.apply(c.mesh.Leave(string(m.id)))
	c.viewersChanged()
	if wasTarget {
		c.refreshSeeds(now)
	}
}

// Relay passes a viewer's offer, answer or candidate on to a neighbour
// (the seeder included).
func (c *Core) Relay(now time.Time, from wire.PeerID, r *wire.Relay) {
	m := c.members[from]
	// Offers, answers and candidates go only to current neighbours; a
	// message for a peer that just stopped being one is dropped.
	if m == nil || !m.neighbours[r.To] {
		return
	}
	relayed := &wire.Relay{From: m.id, SDP: r.SDP, Candidate: r.Candidate}
	if c.seedIDs[r.To] != nil {
		c.out = append(c.out, SeedRelay{Seed: r.To, Relay: relayed})
		return
	}
	if to := c.members[r.To]; to != nil {
		c.send(to, relayed)
	}
}

// SeedRelay passes a seeder's offer, answer or candidate to one of its
// targets.
func (c *Core) SeedRelay(from, to wire.PeerID, r *wire.Relay) error {
	ls := c.seedIDs[from]
	m := c.members[to]
	if ls == nil || m == nil || !ls.targets[to] {
		return fmt.Errorf("viewer %s is not a seed target of %s", to, from)
	}
	c.send(m, &wire.Relay{From: from, SDP: r.SDP, Candidate: r.Candidate})
	return nil
}

// Rendition moves a viewer to another rendition.
func (c *Core) Rendition(now time.Time, id wire.PeerID, r *wire.Rendition) {
	m := c.members[id]
	if m == nil || r.Rendition == m.rendition {
		return
	}
	c.audienceOf(m.rendition).add(m, -1)
	m.rendition = r.Rendition
	c.audienceOf(m.rendition).add(m, 1)
	// Neighbours are kept; Rebalance gathers it with its new rendition.
	c.apply(c.mesh.Update(string(m.id), m.params()))
	c.sendRecent(m)
	c.refreshSeeds(now)
}

// Stats takes a viewer's periodic report: the uploads its neighbours
// confirm are credited at the next tick, its HTTP bytes steer the seed
// count. A non-empty result is why its session must end.
func (c *Core) Stats(now time.Time, id wire.PeerID, st *wire.Stats) string {
	m := c.members[id]
	if m == nil {
		return ""
	}
	last := m.lastStats
	if st.HTTPBytes < last.HTTPBytes || st.P2PBytes < last.P2PBytes || st.UploadBytes < last.UploadBytes || st.Stalls < last.Stalls {
		return "stats counters went backwards"
	}
	m.lastStats = *st
	m.conns = countConns(st.Paths, len(m.neighbours))
	// A viewer's own uploadBytes steer nothing: uploads are credited from
	// what receivers confirm, and no receiver can confirm more than the
	// media announced since its last report plus the window it could
	// still be catching up on.
	limit := c.announced - m.announced
	for _, a := range c.recent[m.rendition] {
		limit += int64(a.Size)
	}
	m.announced = c.announced
	// Only the tracker's pairs count: a viewer cannot confirm bytes from
	// a peer it was never given.
	rx := make([]trust.Received, 0, len(st.From))
	for _, r := range st.From {
		if !m.neighbours[r.Peer] {
			continue
		}
		rx = append(rx, trust.Received{Peer: trust.ID(r.Peer), Bytes: r.Bytes})
		// Sessions of one network cannot vouch for each other until one of
		// them has been proven from outside it.
		if n := c.members[r.Peer]; n != nil && (m.vouching || n.network != m.network || !limitedNetwork(n.network)) {
			c.proven(n)
		}
	}
	for id, n := range c.ledger.Confirm(trust.ID(m.id), rx, limit, now) {
		c.credit[wire.PeerID(id)] += n
	}
	if ls := c.seeds[m.rendition]; ls != nil {
		ls.count.AddHTTP(st.HTTPBytes - last.HTTPBytes)
	}
	if c.cfg.OnStats != nil {
		c.cfg.OnStats(st.HTTPBytes-last.HTTPBytes, st.P2PBytes-last.P2PBytes, st.Stalls-last.Stalls)
	}
	if st.Unreachable {
		c.unreachable(now, m)
	}
	return ""
}

// Report weighs a viewer's complaint about a neighbour (trust.Ledger):
// the link between the two is cut for good whatever the verdict; the
// accused is banned only when reporters in good standing on enough
// networks agree.
func (c *Core) Report(now time.Time, id wire.PeerID, r *wire.Report) {
	m := c.members[id]
	if m == nil {
		return
	}
	banning := r.Reason != wire.ReasonTimeout
	if c.seedIDs[r.Peer] != nil {
		// The server's own peer sends only what the server cut.
		if r.Reason == wire.ReasonHashMismatch && !c.ledger.Discredited(trust.ID(m.id)) {
			c.ledger.ReportedServer(trust.ID(m.id))
			c.apply(c.mesh.Shun(string(m.id)))
			c.log.Info("viewer's reports no longer count: it accused the server's peer of bad bytes", "peer", m.id, "remote", m.remote)
			return
		}
		c.unheeded(m, r.Peer, banning)
		return
	}
	bad := c.members[r.Peer]
	if bad == nil || !m.neighbours[r.Peer] {
		// Only neighbours exchange data, so only they are heard; the link
		// may have gone meanwhile, and the two are still never paired again.
		if !c.unheeded(m, r.Peer, banning) && bad != nil {
			c.apply(c.mesh.Separate(string(m.id), string(bad.id)))
		}
		return
	}
	if banning {
		bad.accusedOf = r.Reason
	}
	v := c.ledger.Report(trust.ID(m.id), trust.ID(bad.id), banning, now)
	c.log.Info("viewer reported", "peer", r.Peer, "by", m.id, "reason", r.Reason,
		"counted", v.Counted, "networks", v.Quorum, "vouching", v.Defence)
	// Separating the two would refill the reporter first; a reporter that
	// has just lost its standing is shunned instead, which cuts every link
	// it has and refills only the neighbours it leaves short.
	if v.Discredited {
		c.discredited(m)
	} else {
		c.apply(c.mesh.Separate(string(m.id), string(bad.id)))
	}
	if !banning {
		c.judgeReachable(now, bad)
	}
	if !v.Ban {
		if c.seedsShort() {
			c.refreshSeeds(now)
		}
		return
	}
	c.ban(now, bad, v.Quorum)
	c.refreshSeeds(now)
}

// judgeReachable shuns a viewer that neighbours on several networks got
// nothing from, unless others vouch for its bytes. Only a viewer that
// offers to upload can be one that gives nothing: nobody asks a viewer that
// opted out, so no delivery would ever vouch for it against two networks'
// word. A newcomer is judged only once it has been in the swarm for
// measureAfter: in its first seconds every new neighbour asks an early
// uploader for the same startup parts, and it turns most of them away
// (NOPE) before the receivers it serves have confirmed a byte of it; Tick
// judges it then on the reports it gathered. Called when a timeout report
// against m arrives, and by Tick for one that came too early.
func (c *Core) judgeReachable(now time.Time, m *member) {
	if !m.canUpload || m.unreachable {
		return
	}
	if now.Sub(m.joinedAt) < measureAfter {
		m.timedOutEarly = true
		return
	}
	m.timedOutEarly = false
	if !c.ledger.Unreachable(trust.ID(m.id), now) {
		return
	}
	m.unreachable = true
	c.apply(c.mesh.Shun(string(m.id)))
	c.endProbation(m)
	c.log.Info("viewer gets no new neighbours: neighbours on several networks got nothing from it", "peer", m.id, "remote", m.remote)
}

// unheeded counts a report that is not weighed against the accused
// towards the reporter's share of accusations, and reports whether that
// cost the reporter its standing.
func (c *Core) unheeded(m *member, accused wire.PeerID, banning bool) bool {
	if !c.ledger.Unheeded(trust.ID(m.id), trust.ID(accused), banning).Discredited {
		return false
	}
	c.discredited(m)
	return true
}

// discredited cuts off a viewer whose accusations just cost it its
// standing: it gets no new neighbours, and keeps none.
func (c *Core) discredited(m *member) {
	c.apply(c.mesh.Shun(string(m.id)))
	c.endProbation(m)
	c.log.Info("viewer's reports no longer count: it reported most of its neighbours", "peer", m.id, "remote", m.remote)
}

// ban closes a convicted session and marks its network.
func (c *Core) ban(now time.Time, bad *member, networks int) {
	c.remove(bad)
	c.apply(c.mesh.Ban(string(bad.id), bad.accusedOf))
	c.bans.ban(bad.network, now, c.cfg.AddressBanFor)
	c.viewersChanged()
	if c.cfg.OnBan != nil {
		c.cfg.OnBan(bad.accusedOf)
	}
	c.out = append(c.out, End{Peer: bad.id, Ban: bad.accusedOf,
		Reason: fmt.Sprintf("banned: reporters on %d networks found %s", networks, bad.accusedOf)})
}

// Announce tells the viewers of the part's rendition its size, hash and
// chunk hashes (so peers pass it on chunk by chunk), the moment it is cut,
// and keeps it for newcomers.
func (c *Core) Announce(now time.Time, a *wire.PartAnnounce) {
	c.announced += int64(a.Size)
	r := append(c.recent[a.ID.Rendition], a)
	if len(r) > recentParts {
		r = r[len(r)-recentParts:]
	}
	c.recent[a.ID.Rendition] = r
	if ls := c.seeds[a.ID.Rendition]; ls != nil {
		ls.count.AddMedia(int64(a.Size))
	}
	for _, m := range c.order {
		if m.rendition == a.ID.Rendition {
			c.send(m, a)
		}
	}
}

// measureAfter is how long a newcomer has before its confirmed upload is
// measured: time to be given neighbours and asked for parts.
const measureAfter = 10 * time.Second

// Tick is the hub's periodic work, never on the media path: it credits
// each viewer with the upload its receivers confirmed since the last
// tick, convicts on review, rebalances the mesh and re-picks the seed
// targets. seederChannels are the viewers the seeders have an open data
// channel with: the server's own proof that they are reachable.
func (c *Core) Tick(now time.Time, seederChannels []wire.PeerID) {
	for _, id := range seederChannels {
		if m := c.members[id]; m != nil {
			c.proven(m)
		}
	}
	window := now.Sub(c.lastTick)
	c.lastTick = now
	for _, m := range c.order {
		if m.timedOutEarly {
			c.judgeReachable(now, m)
		}
		if now.Sub(m.joinedAt) < measureAfter || window <= 0 {
			continue
		}
		c.mesh.ReportStats(string(m.id), tracker.Stats{BytesSent: c.credit[m.id], Window: window})
	}
	clear(c.credit)
	convicted := c.ledger.Review(now)
	slices.SortFunc(convicted, func(a, b trust.Convicted) int { return cmp.Compare(a.ID, b.ID) })
	for _, v := range convicted {
		if bad := c.members[wire.PeerID(v.ID)]; bad != nil {
			c.log.Info("viewer convicted on review", "peer", bad.id, "remote", bad.remote, "reason", bad.accusedOf,
				"networks", v.Quorum, "vouching", v.Defence)
			c.ban(now, bad, v.Quorum)
		}
	}
	c.apply(c.mesh.Rebalance())
	if c.cfg.OnConnections != nil {
		c.cfg.OnConnections(c.connections(now))
	}
	c.refreshSeeds(now)
}

// AddSeed registers the plugin's seeding peer for a rendition.
func (c *Core) AddSeed(now time.Time, rendition string, id wire.PeerID) {
	ls := &localSeed{id: id, rendition: rendition, targets: make(map[wire.PeerID]bool), count: seeding.Count{Window: c.cfg.SeedWindow}}
	c.seeds[rendition] = ls
	c.seedIDs[id] = ls
	c.refreshSeeds(now)
}

// refreshSeeds steps each rendition's seed count and picks its seeder's
// targets: the best-ranked uploading viewers of its rendition, as many as
// the count, installed as the mesh's seeds.
func (c *Core) refreshSeeds(now time.Time) {
	if len(c.seeds) == 0 {
		return
	}
	var all []string
	for _, rendition := range slices.Sorted(mapKeys(c.seeds)) {
		ls := c.seeds[rendition]
		viewers := c.audienceOf(rendition).viewers
		hi := c.cfg.MaxSeedsPerRendition
		if c.cfg.seedsGrow {
			hi = max(hi, viewers/viewersPerSeed)
		}
		changed := ls.count.Adapt(now, c.cfg.SeedsPerRendition, hi, viewers)
		if ended, ok := ls.count.LastEnded(); ok {
			if changed {
				c.log.Info("seed targets changed", "rendition", rendition, "seeds", ls.count.N(),
					"copies", fmt.Sprintf("%.2f", ended.Copies), "viewers", viewers)
			}
			if c.cfg.OnWindow != nil {
				c.cfg.OnWindow(rendition, ended.Viewers)
			}
		}
		ranked := c.mesh.Ranked(ls.count.N(), func(id string) bool {
			m := c.members[wire.PeerID(id)]
			return m != nil && m.rendition == rendition && m.canUpload
		})
		all = append(all, ranked...)
		want := make(map[wire.PeerID]bool, len(ranked))
		for _, id := range ranked {
			want[wire.PeerID(id)] = true
		}
		var add []wire.PeerInfo
		var remove []wire.PeerID
		for _, id := range slices.Sorted(mapKeys(ls.targets)) {
			if !want[id] {
				remove = append(remove, id)
				delete(ls.targets, id)
				if m := c.members[id]; m != nil {
					delete(m.neighbours, ls.id)
					c.send(m, &wire.Peers{Remove: []wire.PeerID{ls.id}})
				}
			}
		}
		for _, id := range ranked {
			id := wire.PeerID(id)
			if !ls.targets[id] {
				ls.targets[id] = true
				add = append(add, wire.PeerInfo{ID: id})
				m := c.members[id]
				m.neighbours[ls.id] = true
				c.send(m, &wire.Peers{Add: []wire.PeerInfo{{ID: ls.id, Seed: true}}})
			}
		}
		if len(add) > 0 || len(remove) > 0 {
			c.out = append(c.out, SeedNeighbours{Seed: ls.id, Add: add, Remove: remove})
		}
	}
	c.apply(c.mesh.SetSeeds(all))
}

func mapKeys[K comparable, V any](m map[K]V) func(yield func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// seedsShort reports whether a rendition has fewer seed targets than its
// count while it has viewers who could be one: worth re-picking at once
// rather than at the next tick.
func (c *Core) seedsShort() bool {
	for rendition, ls := range c.seeds {
		if len(ls.targets) < ls.count.N() && c.audienceOf(rendition).uploaders > len(ls.targets) {
			return true
		}
	}
	return false
}

func (c *Core) isTarget(id wire.PeerID) bool {
	for _, ls := range c.seeds {
		if ls.targets[id] {
			return true
		}
	}
	return false
}

// remove takes a joined member out of the Core's books; it reports
// whether the member was a seed target.
func (c *Core) remove(m *member) (wasTarget bool) {
	delete(c.members, m.id)
	last := c.order[len(c.order)-1]
	c.order[m.pos], last.pos = last, m.pos
	c.order[len(c.order)-1] = nil
	c.order = c.order[:len(c.order)-1]
	c.audienceOf(m.rendition).add(m, -1)
	if m.admitted {
		c.endProbation(m)
	} else {
		c.unhold(m)
	}
	delete(c.credit, m.id)
	c.ledger.Leave(trust.ID(m.id))
	if m.counted {
		m.counted = false
		if c.networks[m.network]--; c.networks[m.network] <= 0 {
			delete(c.networks, m.network)
		}
	}
	return c.isTarget(m.id)
}

func (c *Core) viewersChanged() {
	if c.cfg.OnViewers != nil {
		c.cfg.OnViewers(len(c.members))
	}
}

// apply sends neighbour changes to the viewers they concern.
func (c *Core) apply(changes []tracker.Change) {
	for _, ch := range changes {
		m := c.members[wire.PeerID(ch.Peer)]
		if m == nil {
			continue
		}
		msg := &wire.Peers{}
		for _, id := range ch.Add {
			n := c.members[wire.PeerID(id)]
			msg.Add = append(msg.Add, wire.PeerInfo{ID: wire.PeerID(id), NoUpload: n != nil && !n.canUpload})
			m.neighbours[wire.PeerID(id)] = true
			c.ledger.Neighbours(trust.ID(ch.Peer), trust.ID(id))
		}
		for _, id := range ch.Remove {
			msg.Remove = append(msg.Remove, wire.PeerID(id))
			delete(m.neighbours, wire.PeerID(id))
		}
		c.send(m, msg)
	}
}

func (c *Core) sendRecent(m *member) {
	for _, a := range c.recent[m.rendition] {
		c.send(m, a)
	}
}

// maxJoinLimiters bounds the per-network join limiters remembered.
const maxJoinLimiters = 4096

func (c *Core) joinLimiter(network netip.Prefix) *rate.Limiter {
	l := c.joinRate[network]
	if l == nil {
		if len(c.joinRate) >= maxJoinLimiters {
			clear(c.joinRate) // forgetting only lets a network join a little faster once
		}
		l = rate.NewLimiter(rate.Limit(c.cfg.JoinsPerSecondPerNetwork), c.cfg.JoinBurstPerNetwork)
		c.joinRate[network] = l
	}
	return l
}
