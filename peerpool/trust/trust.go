// Package trust decides whose word the swarm acts on. Viewers tell the
// server two things about each other: what they received from whom (a
// confirmation) and who sent them something bad (a report). Neither is
// taken at face value, because any viewer may lie:
//
//   - A report always cuts the link between reporter and accused (the
//     tracker never pairs the two again): that costs the swarm one link,
//     whoever lied. It bans the accused only when reporters on BanQuorum
//     distinct networks, each in good standing, agree, and they outnumber
//     the networks that confirmed receiving good bytes from the accused
//     lately.
//   - Standing is earned by delivery that others confirm: a reporter needs
//     StandingBytes confirmed by receivers on StandingNetworks networks
//     other than its own and the accused's. Two sessions that vouch for
//     each other have one network's word each: not enough.
//   - Reports are kept and weighed again as standing changes (Review): a
//     newcomer that reports a bad neighbour before anyone has confirmed its
//     own delivery is heard once it has earned its standing.
//   - A session that has accused more than MaxReportShare of the
//     neighbours it was given of bad bytes or protocol errors loses its
//     standing for good, and so does one that accuses the server's own
//     peer of bad bytes. Timeouts do not count towards that share: honest
//     viewers with slow or unreachable neighbours report many.
//   - A session that neighbours on UnreachableQuorum networks could get
//     nothing from (its channel never opened, or it took WANTs and never
//     delivered: "timeout" reports), and that no other network lately
//     confirmed bytes from, is unreachable: the tracker gives it no new
//     links. It keeps watching; it only stops taking slots.
//   - Confirmations are capped by what could have been received (the hub
//     passes the media bytes that existed), so a receiver cannot credit a
//     friend with more than the stream.
//
// A Ledger is pure bookkeeping: no I/O, no goroutines, no locks, no clock;
// the caller passes the time and serialises calls.
package trust

import (
	"net/netip"
	"time"
)

// ID names a session (a wire.PeerID's string).
type ID string

// Config holds a Ledger's settings; zero fields take the defaults noted.
type Config struct {
	// BanQuorum is how many distinct networks, each with a reporter in
	// good standing, must report a session before it is banned. Default 2.
	BanQuorum int
	// StandingBytes is the confirmed delivery (bytes that receivers on
	// other networks confirm) a session needs before its reports count.
	// Default 64 KiB.
	StandingBytes int64
	// StandingNetworks is how many networks other than its own must have
	// confirmed a session's delivery before its reports count. Default 2.
	StandingNetworks int
	// MaxReportShare: once a session has made MinReports reports, it loses
	// its standing when it has reported more than this share of the
	// neighbours it was ever given. Default 1/3.
	MaxReportShare float64
	// MinReports: see MaxReportShare. Default 3.
	MinReports int
	// DefenceWindow: networks that confirmed good bytes from the accused
	// within this window speak for it. Default 30 s.
	DefenceWindow time.Duration
	// UnreachableQuorum is how many networks' "timeout" reports make a
	// session nobody vouches for unreachable. Default 2.
	UnreachableQuorum int
	// MaxNeighboursRemembered bounds the neighbours remembered per session
	// (for the report share); further ones are counted, not remembered.
	// Default 1024.
	MaxNeighboursRemembered int
}

// maxConfirmingNetworks bounds the networks whose confirmations are kept
// per session; a session confirmed by more has standing many times over.
const maxConfirmingNetworks = 256

func (c Config) withDefaults() Config {
	if c.BanQuorum <= 0 {
		c.BanQuorum = 2
	}
	if c.StandingBytes <= 0 {
		c.StandingBytes = 64 << 10
	}
	if c.StandingNetworks <= 0 {
		c.StandingNetworks = 2
	}
	if c.MaxReportShare <= 0 || c.MaxReportShare > 1 {
		c.MaxReportShare = 1.0 / 3
	}
	if c.MinReports <= 0 {
		c.MinReports = 3
	}
	if c.DefenceWindow <= 0 {
		c.DefenceWindow = 30 * time.Second
	}
	if c.UnreachableQuorum <= 0 {
		c.UnreachableQuorum = 2
	}
	if c.MaxNeighboursRemembered <= 0 {
		c.MaxNeighboursRemembered = 1024
	}
	return c
}

// Received is one line of a receiver's confirmation: the total verified
// bytes it got from Peer since Peer became its neighbour.
type Received struct {
	Peer  ID
	Bytes int64
}

// Verdict is what a report leads to.
type Verdict struct {
	// Counted: the reporter is in standing and its network counts against
	// the accused.
	Counted bool
	// Ban: the accused is to be banned (and its network marked).
	Ban bool
	// Quorum is the number of networks with standing reporters against the
	// accused; Defence the networks that confirmed its bytes lately.
	Quorum, Defence int
	// Discredited: this report cost the reporter its standing.
	Discredited bool
}

type session struct {
	network netip.Prefix

	neighbours     map[ID]bool // remembered neighbours ever given
	neighboursEver int
	reports        int
	accused        map[ID]bool
	discredited    bool

	confirmed   map[netip.Prefix]int64     // bytes confirmed, by the receivers' network
	reportedBy  map[netip.Prefix]ID        // networks of reporters → the reporter
	timeoutBy   map[netip.Prefix]ID        // networks that could get nothing from it → the reporter
	confirmedBy map[netip.Prefix]time.Time // networks that confirmed its bytes, last time
	lastRx      map[ID]int64               // this receiver's last totals per sender
}

// Ledger is the trust bookkeeping of one swarm. Not safe for concurrent use.
type Ledger struct {
	cfg      Config
	sessions map[ID]*session
}

// New returns an empty ledger.
func New(cfg Config) *Ledger {
	return &Ledger{cfg: cfg.withDefaults(), sessions: make(map[ID]*session)}
}

// Join records a session and the network it came from (the zero Prefix:
// unknown, a network of its own).
func (l *Ledger) Join(id ID, network netip.Prefix) {
	l.sessions[id] = &session{
		network:     network,
		neighbours:  make(map[ID]bool),
		accused:     make(map[ID]bool),
		confirmed:   make(map[netip.Prefix]int64),
		reportedBy:  make(map[netip.Prefix]ID),
		timeoutBy:   make(map[netip.Prefix]ID),
		confirmedBy: make(map[netip.Prefix]time.Time),
		lastRx:      make(map[ID]int64),
	}
}

// Leave forgets a session.
func (l *Ledger) Leave(id ID) { delete(l.sessions, id) }

// Neighbours records that a and b were made neighbours.
func (l *Ledger) Neighbours(a, b ID) {
	l.addNeighbour(a, b)
	l.addNeighbour(b, a)
}

func (l *Ledger) addNeighbour(a, b ID) {
	s := l.sessions[a]
	if s == nil || s.neighbours[b] {
		return
	}
	s.neighboursEver++
	if len(s.neighbours) < l.cfg.MaxNeighboursRemembered {
		s.neighbours[b] = true
	}
}

// sameNetwork: two sessions on one valid network. Unknown networks are
// never the same as anything.
func sameNetwork(a, b netip.Prefix) bool { return a.IsValid() && a == b }

// Confirm takes a receiver's totals per sender and returns the new bytes
// credited to each sender since the receiver's last confirmation. A
// sender absent from rx starts again from zero (it stopped being a
// neighbour). The credits together never exceed limit: a receiver cannot
// confirm more than the media there was to receive. Senders that are not
// sessions (the server's own peers) are skipped.
func (l *Ledger) Confirm(receiver ID, rx []Received, limit int64, now time.Time) map[ID]int64 {
	r := l.sessions[receiver]
	if r == nil {
		return nil
	}
	credits := make(map[ID]int64)
	next := make(map[ID]int64, len(rx))
	for _, e := range rx {
		if e.Peer == receiver || e.Bytes < 0 {
			continue
		}
		next[e.Peer] = e.Bytes
		d := e.Bytes - r.lastRx[e.Peer]
		if d <= 0 {
			continue
		}
		d = min(d, limit)
		limit -= d
		if l.sessions[e.Peer] == nil {
			continue
		}
		credits[e.Peer] += d
	}
	r.lastRx = next
	for id, d := range credits {
		s := l.sessions[id]
		if sameNetwork(s.network, r.network) {
			continue // delivery inside one network earns placement, not standing
		}
		if _, ok := s.confirmed[r.network]; ok || len(s.confirmed) < maxConfirmingNetworks {
			s.confirmed[r.network] += d
		}
		s.confirmedBy[r.network] = now
	}
	return credits
}

// InStanding reports whether id's reports count against a session on
// another network.
func (l *Ledger) InStanding(id ID) bool {
	s := l.sessions[id]
	return s != nil && l.standing(s, netip.Prefix{})
}

// standing: s is not discredited and enough networks other than its own
// and the accused's confirmed enough of its delivery.
func (l *Ledger) standing(s *session, accused netip.Prefix) bool {
	if s == nil || s.discredited {
		return false
	}
	var bytes int64
	networks := 0
	for n, b := range s.confirmed {
		if b <= 0 || sameNetwork(n, s.network) || sameNetwork(n, accused) {
			continue
		}
		bytes += b
		networks++
	}
	return networks >= l.cfg.StandingNetworks && bytes >= l.cfg.StandingBytes
}

// Discredited reports whether id has lost its standing for good.
func (l *Ledger) Discredited(id ID) bool {
	s := l.sessions[id]
	return s != nil && s.discredited
}

// Report weighs reporter's accusation of accused. The caller cuts their
// link whatever the verdict. banning: the reason is one that may ban (bad
// bytes or protocol errors; a channel that never opened is not malice).
func (l *Ledger) Report(reporter, accused ID, banning bool, now time.Time) Verdict {
	r, a := l.sessions[reporter], l.sessions[accused]
	if r == nil || a == nil || reporter == accused {
		return Verdict{}
	}
	var v Verdict
	v.Discredited = l.countAccusation(r, accused, banning)
	if !banning && !r.discredited && !sameNetwork(r.network, a.network) {
		a.timeoutBy[r.network] = reporter
	}
	if banning && !r.discredited && !sameNetwork(r.network, a.network) {
		if prev, ok := a.reportedBy[r.network]; !ok || !l.standing(l.sessions[prev], a.network) {
			a.reportedBy[r.network] = reporter
		}
		v.Counted = l.standing(r, a.network)
	}
	v.Quorum, v.Defence = l.weigh(a, now)
	v.Ban = banning && l.convicted(v)
	return v
}

func (l *Ledger) convicted(v Verdict) bool {
	return v.Quorum >= l.cfg.BanQuorum && v.Quorum > v.Defence
}

// Convicted is a session whose accusers now carry the day.
type Convicted struct {
	ID ID
	Verdict
}

// Review weighs again every session with standing accusations against it
// (reporters earn or lose standing, vouching expires) and returns those to
// ban now. O(accused sessions × their reporters).
func (l *Ledger) Review(now time.Time) []Convicted {
	var out []Convicted
	for id, a := range l.sessions {
		if len(a.reportedBy) == 0 {
			continue
		}
		var v Verdict
		v.Quorum, v.Defence = l.weigh(a, now)
		if v.Ban = l.convicted(v); v.Ban {
			out = append(out, Convicted{ID: id, Verdict: v})
		}
	}
	return out
}

// Unreachable reports whether neighbours on UnreachableQuorum networks
// (reporters whose word still stands) could get nothing from id, and no
// other network confirmed bytes from it within the defence window.
func (l *Ledger) Unreachable(id ID, now time.Time) bool {
	a := l.sessions[id]
	if a == nil {
		return false
	}
	n := 0
	for network, rid := range a.timeoutBy {
		if r := l.sessions[rid]; r == nil || r.discredited {
			delete(a.timeoutBy, network)
			continue
		}
		n++
	}
	if n < l.cfg.UnreachableQuorum {
		return false
	}
	for network, at := range a.confirmedBy {
		if now.Sub(at) <= l.cfg.DefenceWindow && a.timeoutBy[network] == "" {
			return false
		}
	}
	return true
}

// Unheeded records a report the caller will not weigh against the
// accused: a peer that is not (or no longer) the reporter's neighbour, one
// that has left, or the server's own peer accused of a protocol error. It
// still counts against the reporter's share, so that a forger cannot stay
// in standing by aiming some of its reports where they are not heard.
func (l *Ledger) Unheeded(reporter, accused ID, banning bool) Verdict {
	r := l.sessions[reporter]
	if r == nil || reporter == accused {
		return Verdict{}
	}
	return Verdict{Discredited: l.countAccusation(r, accused, banning)}
}

// countAccusation adds one report to r's share and reports whether that
// cost r its standing. Only accusations of malice count: an honest viewer
// with slow or unreachable neighbours reports many of them as timeouts,
// and a timeout bans nobody (it costs the reporter its own link, and one
// network's word towards Unreachable).
func (l *Ledger) countAccusation(r *session, accused ID, banning bool) bool {
	if !banning || r.discredited || r.accused[accused] {
		return false
	}
	r.accused[accused] = true
	r.reports++
	if r.reports >= l.cfg.MinReports && float64(r.reports) > l.cfg.MaxReportShare*float64(r.neighboursEver) {
		r.discredited = true
		return true
	}
	return false
}

// ReportedServer records that reporter accused the server's own peer of
// bad bytes: the server's peer sends only what the server cut, so the
// reporter is lying or broken and loses its standing.
func (l *Ledger) ReportedServer(reporter ID) {
	if s := l.sessions[reporter]; s != nil {
		s.discredited = true
	}
}

// weigh counts the networks whose reporters against a stand, and the
// other networks that confirmed a's bytes within the defence window.
func (l *Ledger) weigh(a *session, now time.Time) (quorum, defence int) {
	for network, id := range a.reportedBy {
		r := l.sessions[id]
		if r == nil || r.discredited {
			delete(a.reportedBy, network)
			continue
		}
		if l.standing(r, a.network) {
			quorum++
		}
	}
	for network, at := range a.confirmedBy {
		switch {
		case now.Sub(at) > l.cfg.DefenceWindow:
			delete(a.confirmedBy, network)
		case a.reportedBy[network] == "":
			defence++
		}
	}
	return quorum, defence
}
