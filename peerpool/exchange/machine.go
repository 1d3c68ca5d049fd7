package exchange

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// Config configures a Machine. The zero value, with an ID, is a viewer
// that does not upload.
type Config struct {
	// ID is this peer's id (from welcome).
	ID wire.PeerID
	// CanUpload: false answers every WANT with NOPE, never says HAVE and
	// never sends DATA.
	CanUpload bool
	// UploadCapBps caps the DATA bytes this peer sends per second, over all
	// neighbours; 0 is no cap.
	UploadCapBps int64
	// MaxFrame is the largest frame this peer sends (welcome.maxFrame);
	// 0 means wire.MaxFrameSize.
	MaxFrame int
	// Seed marks the server's seeding peer (or a relay the server flags as
	// seed): it always offers the connection, pushes every part given to
	// Offer to all its neighbours and never declines a WANT. It must match
	// the "seed" flag the server gives this peer's neighbours, or neither
	// side offers.
	Seed bool
	// ConnectTimeout is how long a neighbour's data channel may take to
	// open before it is dropped and reported (default
	// wire.ConnectTimeoutMs).
	ConnectTimeout time.Duration
	// StoreParts and StoreBytes bound the store of verified parts (oldest
	// evicted first); 0 means 256 parts and 256 MiB.
	StoreParts int
	StoreBytes int
}

// Limits (per neighbour unless stated). Those from wire are shared with
// the browser client, which must keep the same (wire/limits.go).
const (
	defaultStoreParts = 256
	defaultStoreBytes = 256 << 20
	maxBuffered       = wire.MaxBuffered // never more than this queued on a data channel
	maxRequests       = wire.MaxRequests // our WANTs outstanding at one neighbour
	maxUploads        = wire.MaxUploads  // parts queued for upload to one neighbour
	maxIncoming       = wire.MaxIncoming // assemblers in flight from one neighbour
	maxPendingBytes   = wire.MaxPendingBytes
	maxUnsolicited    = wire.MaxUnsolicited  // DATA nobody asked for before "protocol"
	maxFramesPerSec   = wire.MaxFramesPerSec // incoming frames per second before "protocol"
	maxHave           = wire.MaxHave
	maxExpected       = wire.MaxAnnounced
	maxControlQueue   = wire.MaxControlQueue
	haveOnOpen        = wire.HaveOnOpen // HAVEs sent to a neighbour whose channel just opened
)

// Machine is one peer's side of the protocol. It is not safe for
// concurrent use: its driver serialises the calls.
type Machine struct {
	cfg Config

	closed     bool
	neighbours map[wire.PeerID]*neighbour
	banned     map[wire.PeerID]string
	expected   map[wire.PartID]*wire.PartAnnounce
	expOrder   []wire.PartID
	store      *store
	fetches    map[wire.PartID]*fetch
	declined   []declined // WANTs answered NOPE while busy (busy.go)
	earlyHave  *idSet     // parts we said HAVE for before holding them whole (cutthrough.go)
	uploadSeq  uint64     // uploads queued so far, for their order (uploadorder.go)
	bucket     *bucket
	// bucketAt: an upload waits for the bucket to refill until then;
	// turnAt: one waits for its turn behind another neighbour's and looks
	// again then (uploadorder.go).
	bucketAt, turnAt time.Time
	out              []Output
	st               Stats
	// inOrder caches sorted(): nil since the neighbours last changed.
	// Callers only range over it, and it is rebuilt afresh, never in
	// place, so a slice handed out stays valid.
	inOrder []*neighbour
}

// New makes a Machine, with no neighbour yet. now starts the upload cap's
// bucket full.
func New(cfg Config, now time.Time) (*Machine, error) {
	if err := cfg.ID.Validate(); err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = wire.MaxFrameSize
	}
	if cfg.MaxFrame < wire.MinFrameSize || cfg.MaxFrame > wire.MaxFrameSize {
		return nil, fmt.Errorf("exchange: MaxFrame %d is outside %d..%d", cfg.MaxFrame, wire.MinFrameSize, wire.MaxFrameSize)
	}
	if cfg.UploadCapBps < 0 {
		return nil, fmt.Errorf("exchange: negative UploadCapBps %d", cfg.UploadCapBps)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = wire.ConnectTimeoutMs * time.Millisecond
	}
	if cfg.StoreParts <= 0 {
		cfg.StoreParts = defaultStoreParts
	}
	if cfg.StoreBytes <= 0 {
		cfg.StoreBytes = defaultStoreBytes
	}
	m := &Machine{
		cfg:        cfg,
		neighbours: make(map[wire.PeerID]*neighbour),
		banned:     make(map[wire.PeerID]string),
		expected:   make(map[wire.PartID]*wire.PartAnnounce),
		store:      newStore(cfg.StoreParts, cfg.StoreBytes),
		earlyHave:  newIDSet(maxExpected),
		fetches:    make(map[wire.PartID]*fetch),
	}
	if cfg.UploadCapBps > 0 {
		m.bucket = newBucket(cfg.UploadCapBps, now)
	}
	return m, nil
}

// Poll returns the next action, if any. Call it after every event until it
// returns false.
func (m *Machine) Poll() (Output, bool) {
	if len(m.out) == 0 {
		return nil, false
	}
	o := m.out[0]
	m.out[0] = nil
	m.out = m.out[1:]
	if len(m.out) == 0 {
		m.out = nil
	}
	return o, true
}

func (m *Machine) emit(o Output) { m.out = append(m.out, o) }

// SetNeighbours applies a "peers" message: Connect for each added
// neighbour (not itself, not banned, not already one), Disconnect for
// each removed one.
func (m *Machine) SetNeighbours(now time.Time, add []wire.PeerInfo, remove []wire.PeerID) {
	if m.closed {
		return
	}
	for _, id := range remove {
		if n := m.neighbours[id]; n != nil {
			m.drop(now, n, "removed by the server")
		}
	}
	for _, info := range add {
		if info.ID == m.cfg.ID || info.ID.Validate() != nil {
			continue
		}
		if _, ok := m.banned[info.ID]; ok {
			continue
		}
		if _, ok := m.neighbours[info.ID]; ok {
			continue
		}
		offerer := m.cfg.ID < info.ID
		if m.cfg.Seed != info.Seed {
			offerer = m.cfg.Seed
		}
		m.neighbours[info.ID] = newNeighbour(info, now, m.st.nstats(info.ID))
		m.inOrder = nil
		m.emit(Connect{Peer: info.ID, Seed: info.Seed, NoUpload: info.NoUpload, Offerer: offerer})
	}
	m.progress(now)
}

// IsBanned reports whether id was disconnected for misbehaving.
func (m *Machine) IsBanned(id wire.PeerID) bool { _, ok := m.banned[id]; return ok }

// Opened tells that the data channel to neighbour id is open.
func (m *Machine) Opened(now time.Time, id wire.PeerID) {
	n := m.neighbours[id]
	if n == nil || n.open {
		return
	}
	n.open = true
	if m.cfg.CanUpload {
		for _, part := range m.store.newest(haveOnOpen) {
			m.queueControl(now, n, wire.FrameHave, part)
		}
	}
	m.wake(n)
	m.progress(now)
}

// Closed tells that the connection to neighbour id went away.
func (m *Machine) Closed(now time.Time, id wire.PeerID, reason string) {
	if n := m.neighbours[id]; n != nil {
		m.drop(now, n, reason)
		m.progress(now)
	}
}

// Expect records the server's announcement of a part: its size and
// SHA-256, needed before any byte of it is accepted from a neighbour.
// Bytes already held for it are verified now.
func (m *Machine) Expect(now time.Time, a *wire.PartAnnounce) error {
	if a == nil {
		return errors.New("exchange: nil part announcement")
	}
	if err := a.Validate(); err != nil {
		return fmt.Errorf("exchange: part announcement: %w", err)
	}
	if _, ok := m.expected[a.ID]; ok || m.closed {
		return nil
	}
	ac := *a
	m.expected[a.ID] = &ac
	m.expOrder = append(m.expOrder, a.ID)
	for len(m.expOrder) > maxExpected {
		delete(m.expected, m.expOrder[0])
		m.expOrder = m.expOrder[1:]
	}
	for _, n := range m.sorted() {
		if in := n.incoming[a.ID]; in != nil && in.asm == nil {
			m.announce(now, n, in, &ac)
		}
	}
	m.progress(now)
	return nil
}

// Offer stores a part this peer holds and trusts (fetched over HTTP and
// verified, or cut by the server), tells the neighbours HAVE and, on a
// seed, pushes it to every neighbour. A part that was announced must match
// its announcement. data must not be modified afterwards.
func (m *Machine) Offer(now time.Time, id wire.PartID, data []byte) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("exchange: offered part: %w", err)
	}
	if len(data) == 0 || len(data) > wire.MaxPartSize {
		return fmt.Errorf("exchange: offered part %s has %d bytes, not 1..%d", id, len(data), wire.MaxPartSize)
	}
	if a := m.expected[id]; a != nil && (a.Size != len(data) || wire.Hash(sha256.Sum256(data)) != a.SHA256) {
		return fmt.Errorf("exchange: offered part %s does not match its announcement", id)
	}
	if m.closed || !m.store.add(id, data) {
		return nil
	}
	m.st.PartsOffered++
	if m.cfg.Seed && m.cfg.CanUpload {
		for _, n := range m.sorted() {
			if n.open && !n.has.has(id) {
				m.queueUpload(now, n, id, false)
			}
		}
	}
	m.stored(now, id, data, nil)
	m.progress(now)
	return nil
}

// stored runs after a part entered the store: it cancels other transfers
// of it, tells the neighbours HAVE and ends its fetch.
func (m *Machine) stored(now time.Time, id wire.PartID, data []byte, from *neighbour) {
	for _, n := range m.sorted() {
		if n != from && (n.incoming[id] != nil || n.requests[id] != nil) {
			m.abandon(now, n, id)
		}
		// No HAVE to a neighbour we are pushing the part to: it would only
		// make it WANT what is on its way; none at all when this peer does
		// not upload.
		switch {
		case n.uploading(id):
			m.wake(n) // an upload of its first chunks waits for the rest (cutthrough.go)
		case m.cfg.CanUpload && n.open && !n.has.has(id):
			m.queueControl(now, n, wire.FrameHave, id)
		}
	}
	if f := m.fetches[id]; f != nil {
		delete(m.fetches, id)
		m.emit(Fetched{Part: id, Data: data})
	}
}

// Close disconnects every neighbour and ends every Want.
func (m *Machine) Close(now time.Time) {
	if m.closed {
		return
	}
	for _, n := range m.sorted() {
		m.drop(now, n, "closing")
	}
	m.closed = true
	for _, id := range sortedParts(m.fetches) {
		delete(m.fetches, id)
		m.emit(Fetched{Part: id})
	}
}

// Advance runs what is due at now: stalled WANTs move on, channels that
// never opened are dropped, uploads whose bytes stopped coming are given
// up, and uploads held by the cap may go.
func (m *Machine) Advance(now time.Time) {
	if m.closed {
		return
	}
	for _, n := range m.sorted() {
		if !n.open && now.Sub(n.added) >= m.cfg.ConnectTimeout {
			m.drop(now, n, "no data channel after "+m.cfg.ConnectTimeout.String())
			// Told to the server, which never pairs the two again: a
			// neighbour that never opens holds a slot someone could use.
			if !n.seed {
				m.banned[n.id] = wire.ReasonTimeout
				m.emit(Report{Peer: n.id, Reason: wire.ReasonTimeout})
			}
			continue
		}
		if len(n.uploads) > 0 {
			m.readyUpload(now, n) // drops the starved ones
		}
		m.judgeLate(now, n)
	}
	if !m.bucketAt.IsZero() && !now.Before(m.bucketAt) {
		m.bucketAt = time.Time{}
		m.wakeUploads()
	}
	m.reoffer(now) // declined while the cap was spent: it may be repaid
	if !m.turnAt.IsZero() && !now.Before(m.turnAt) {
		m.turnAt = time.Time{}
		m.wakeUploads()
	}
	m.progress(now)
}

// Deadline is when Advance must next be called; zero when nothing is
// waiting for time.
func (m *Machine) Deadline() time.Time {
	var d time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	for _, f := range m.fetches {
		at(f.deadline)
	}
	for _, n := range m.neighbours {
		if !n.open {
			at(n.added.Add(m.cfg.ConnectTimeout))
		}
		for _, u := range n.uploads {
			if u.sent == len(u.data) {
				at(u.progress.Add(starvedUpload))
			}
			if u.asked && u.sent == 0 {
				at(u.queued.Add(startWithin))
			}
		}
		for id, r := range n.requests {
			if r.late && n.incoming[id] == nil {
				at(r.sent.Add(firstByte))
			}
		}
	}
	at(m.bucketAt)
	at(m.turnAt)
	if len(m.declined) > 0 && m.bucket != nil { // reoffer once the cap is no longer spent
		if t := m.bucket.owesAtMost(float64(m.cfg.UploadCapBps) * busyHorizon.Seconds()); t.After(m.bucket.last) {
			at(t)
		}
	}
	return d
}

// Availability tells how many open neighbours said HAVE for id and
// whether a transfer of it is under way: why a Want ran out of time.
func (m *Machine) Availability(id wire.PartID) (holders int, inFlight bool) {
	for _, n := range m.neighbours {
		if n.open && n.has.has(id) {
			holders++
		}
	}
	_, in := m.activeIncoming(id)
	return holders, in != nil
}

// Received lists the neighbours with an open data channel and the part
// bytes received from each and verified since it became a neighbour, at
// most wire.MaxListLen: what the server credits their uploads from
// (wire.Stats.From).
func (m *Machine) Received() []wire.Received {
	out := make([]wire.Received, 0, len(m.neighbours))
	for id, n := range m.neighbours {
		if n.open {
			out = append(out, wire.Received{Peer: id, Bytes: n.verified})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Peer < out[j].Peer
	})
	return out[:min(len(out), wire.MaxListLen)]
}

// bad bans a neighbour that broke the protocol or sent bad bytes, drops it
// and reports it.
func (m *Machine) bad(now time.Time, n *neighbour, reason string, err error) {
	if n.closed {
		return
	}
	if reason == wire.ReasonHashMismatch {
		m.st.HashMismatch++
	} else {
		m.st.ProtocolError++
	}
	m.banned[n.id] = reason
	m.drop(now, n, reason+": "+err.Error())
	m.emit(Report{Peer: n.id, Reason: reason})
}

// drop forgets a neighbour and asks for its connection to be closed.
func (m *Machine) drop(now time.Time, n *neighbour, reason string) {
	if n.closed {
		return
	}
	n.closed, n.open = true, false
	if m.neighbours[n.id] == n {
		delete(m.neighbours, n.id)
		m.inOrder = nil
	}
	n.requests, n.incoming = nil, nil
	n.pendingBytes = 0
	n.control, n.uploads = nil, nil
	m.emit(Disconnect{Peer: n.id, Reason: reason})
}

// sorted returns the neighbours in id order, so that the outputs of an
// event do not depend on map order (tests and vectors compare them).
func (m *Machine) sorted() []*neighbour {
	if m.inOrder != nil || len(m.neighbours) == 0 {
		return m.inOrder
	}
	out := make([]*neighbour, 0, len(m.neighbours))
	for _, n := range m.neighbours {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	m.inOrder = out
	return out
}

func sortedParts[V any](m map[wire.PartID]V) []wire.PartID {
	out := make([]wire.PartID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return partLess(out[i], out[j]) })
	return out
}

func partLess(a, b wire.PartID) bool {
	if a.Rendition != b.Rendition {
		return a.Rendition < b.Rendition
	}
	if a.MSN != b.MSN {
		return a.MSN < b.MSN
	}
	return a.Index < b.Index
}
