package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Signaling limits. Every limit is checked by DecodeSignal (and the
// direction-specific decoders) and by EncodeSignal.
const (
	// ProtocolVersion is the protocol spoken by this package; join and
	// welcome carry it in "v" and a mismatch is an error.
	ProtocolVersion = 1
	// MaxSignalSize bounds a whole signaling message (one WebSocket text frame).
	MaxSignalSize = 16 << 10
	// MaxSDPSize bounds sdp.sdp (bytes).
	MaxSDPSize = 12 << 10
	// MaxCandidateSize bounds candidate.candidate (bytes).
	MaxCandidateSize = 512
	// MaxSDPMidSize bounds candidate.sdpMid (bytes).
	MaxSDPMidSize = 32
	// MaxSDPMLineIndex bounds candidate.sdpMLineIndex.
	MaxSDPMLineIndex = 15
	// MaxListLen bounds have.parts, peers.add and peers.remove, and the
	// connections stats.paths counts in all.
	MaxListLen = 64
	// MaxPaths bounds stats.paths: every combination of two candidate
	// types and a protocol once.
	MaxPaths = 4 * 4 * 2
	// MaxUploadCapBps bounds join.upload.capBps (10 GB/s).
	MaxUploadCapBps = 10_000_000_000
	// MaxICEServers bounds welcome.ice; MaxICEURLs bounds each server's urls.
	MaxICEServers = 8
	MaxICEURLs    = 8
	// MaxICEField bounds each ICE URL, username and credential (bytes).
	MaxICEField = 256
	// MaxReasonSize bounds error.reason (bytes).
	MaxReasonSize = 256
	// MaxPartSize bounds a part's size (part.size, DATA total).
	MaxPartSize = 16 << 20
	// MaxDurationMs bounds part.durationMs and welcome.partTargetMs.
	MaxDurationMs = 60_000
	// MaxChunks bounds part.chunks (at 67 bytes of JSON each, 8.6 KB).
	MaxChunks = 128
	// MinChunkSize bounds part.chunkSize from below.
	MinChunkSize = 1024
)

// Message types: the "t" of the envelope.
const (
	TypeJoin      = "join"      // client → server
	TypeSignal    = "signal"    // both ways (Relay)
	TypeRendition = "rendition" // client → server
	TypeStats     = "stats"     // client → server
	TypeReport    = "report"    // client → server
	TypeWelcome   = "welcome"   // server → client
	TypePeers     = "peers"     // server → client
	TypePart      = "part"      // server → client
	TypeError     = "error"     // server → client
)

// Signal is one signaling message: *Join, *Relay, *Rendition, *Stats,
// *Report, *Welcome, *Peers, *PartAnnounce or *ServerError.
type Signal interface {
	// SignalType is the envelope's "t".
	SignalType() string
	// Validate checks every field against the protocol's limits.
	Validate() error
	fromClient() bool
	fromServer() bool
}

// Join is the first message a client sends.
type Join struct {
	V         int    `json:"v"`
	Rendition string `json:"rendition"`
	Upload    Upload `json:"upload"`
	SaveData  bool   `json:"saveData"`
	TurnOnly  bool   `json:"turnOnly"`
}

// Upload is what a viewer offers to upload.
type Upload struct {
	Enabled bool `json:"enabled"`
	// CapBps is the upload cap in bytes per second; 0 states no cap.
	CapBps int64 `json:"capBps"`
}

// Relay carries SDP or one ICE candidate between two peers through the
// server. From a client it names the recipient in To; from the server it
// names the sender in From. Exactly one of SDP and Candidate is set.
type Relay struct {
	To        PeerID     `json:"to,omitempty"`
	From      PeerID     `json:"from,omitempty"`
	SDP       *SDP       `json:"sdp,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`
}

// SDP is an RTCSessionDescriptionInit.
type SDP struct {
	Type string `json:"type"` // "offer" or "answer"
	SDP  string `json:"sdp"`
}

// Candidate is an RTCIceCandidateInit. An empty Candidate string means
// end-of-candidates.
type Candidate struct {
	Candidate     string `json:"candidate"`
	SDPMid        string `json:"sdpMid"`
	SDPMLineIndex int    `json:"sdpMLineIndex"`
}

// Rendition says the client's player switched rendition.
type Rendition struct {
	Rendition string `json:"rendition"`
}

// Stats is a client's periodic report. Counters are totals since join.
type Stats struct {
	Rendition   string `json:"rendition"`
	HTTPBytes   int64  `json:"httpBytes"`
	P2PBytes    int64  `json:"p2pBytes"`
	UploadBytes int64  `json:"uploadBytes"`
	Stalls      int    `json:"stalls"`
	StallMs     int64  `json:"stallMs"`
	LagMs       int64  `json:"lagMs"` // -1 = unknown
	Peers       int    `json:"peers"`
	// From lists the neighbours this peer has an open data channel with
	// and the verified part bytes it received from each since that peer
	// last became its neighbour. The server credits uploads from these
	// confirmations, never from a peer's own uploadBytes.
	From []Received `json:"from"`
	// Paths count this peer's open peer connections by the candidate
	// pair ICE selected for each: what NAT traversal came to. Absent from
	// older clients.
	Paths []Path `json:"paths"`
	// Unreachable says this peer was offered neighbours and no data
	// channel opened within UnreachableAfterMs of the first offer, nor
	// since: the server stops offering it to others.
	Unreachable bool `json:"unreachable"`
}

// ICE candidate types (RTCIceCandidateType) and protocols (RTCIceProtocol)
// of stats.paths.
const (
	CandidateHost  = "host"
	CandidateSrflx = "srflx"
	CandidatePrflx = "prflx"
	CandidateRelay = "relay"
	ProtocolUDP    = "udp"
	ProtocolTCP    = "tcp"
)

// Path is one entry of Stats.Paths: how many open connections have a
// selected candidate pair of these local and remote candidate types over
// this protocol.
type Path struct {
	Local    string `json:"local"`
	Remote   string `json:"remote"`
	Protocol string `json:"protocol"`
	Count    int    `json:"count"`
}

// Received is one neighbour in Stats.From.
type Received struct {
	Peer  PeerID `json:"peer"`
	Bytes int64  `json:"bytes"`
}

// Report reasons.
const (
	ReasonHashMismatch = "hash-mismatch"
	ReasonProtocol     = "protocol"
	ReasonTimeout      = "timeout"
)

// Report accuses a neighbour of misbehaving.
type Report struct {
	Peer   PeerID `json:"peer"`
	Reason string `json:"reason"`
}

// Welcome answers a join.
type Welcome struct {
	V                  int         `json:"v"`
	ID                 PeerID      `json:"id"`
	ICE                []ICEServer `json:"ice"`
	ICETransportPolicy string      `json:"iceTransportPolicy"` // "all" or "relay"
	PartTargetMs       int         `json:"partTargetMs"`
	MaxFrame           int         `json:"maxFrame"`
}

// ICEServer is an RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Peers changes the client's neighbour set.
type Peers struct {
	Add    []PeerInfo `json:"add"`
	Remove []PeerID   `json:"remove"`
}

// PeerInfo is one neighbour; Seed marks the server's own peer and relays.
// NoUpload marks a neighbour that will not upload (it opted out, or the
// server allows it only to receive): its HAVE is ignored and it is never
// asked for a part.
type PeerInfo struct {
	ID       PeerID `json:"id"`
	Seed     bool   `json:"seed"`
	NoUpload bool   `json:"noUpload"`
}

// PartAnnounce announces a part the moment it is cut. SHA256 is what every
// peer verifies the part's bytes against. Chunks, when present, are the
// SHA-256 of each ChunkSize bytes of the part (the last chunk may be
// shorter): a peer verifies and passes on each chunk as it arrives instead
// of waiting for the whole part (ChunkHashes makes them).
type PartAnnounce struct {
	ID          PartID `json:"id"`
	Size        int    `json:"size"`
	SHA256      Hash   `json:"sha256"`
	DurationMs  int    `json:"durationMs"`
	Independent bool   `json:"independent"`
	ChunkSize   int    `json:"chunkSize"`
	Chunks      []Hash `json:"chunks"`
}

// ServerError is sent before the server closes a session.
type ServerError struct {
	Reason string `json:"reason"`
}

func (*Join) SignalType() string         { return TypeJoin }
func (*Relay) SignalType() string        { return TypeSignal }
func (*Rendition) SignalType() string    { return TypeRendition }
func (*Stats) SignalType() string        { return TypeStats }
func (*Report) SignalType() string       { return TypeReport }
func (*Welcome) SignalType() string      { return TypeWelcome }
func (*Peers) SignalType() string        { return TypePeers }
func (*PartAnnounce) SignalType() string { return TypePart }
func (*ServerError) SignalType() string  { return TypeError }

func (*Join) fromClient() bool         { return true }
func (*Join) fromServer() bool         { return false }
func (r *Relay) fromClient() bool      { return r.To != "" && r.From == "" }
func (r *Relay) fromServer() bool      { return r.From != "" && r.To == "" }
func (*Rendition) fromClient() bool    { return true }
func (*Rendition) fromServer() bool    { return false }
func (*Stats) fromClient() bool        { return true }
func (*Stats) fromServer() bool        { return false }
func (*Report) fromClient() bool       { return true }
func (*Report) fromServer() bool       { return false }
func (*Welcome) fromClient() bool      { return false }
func (*Welcome) fromServer() bool      { return true }
func (*Peers) fromClient() bool        { return false }
func (*Peers) fromServer() bool        { return true }
func (*PartAnnounce) fromClient() bool { return false }
func (*PartAnnounce) fromServer() bool { return true }
func (*ServerError) fromClient() bool  { return false }
func (*ServerError) fromServer() bool  { return true }

func validRendition(field, r string) error {
	if err := (PartID{Rendition: r}).Validate(); err != nil {
		return fmt.Errorf("%s: %w", field, errors.Unwrap(err))
	}
	return nil
}

func validPeer(field string, id PeerID) error {
	if id == "" {
		return fmt.Errorf("%s is missing", field)
	}
	if err := id.Validate(); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

func maxLen(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes, longer than %d", field, len(s), max)
	}
	return nil
}

func nonNegative(field string, n int64) error {
	if n < 0 {
		return fmt.Errorf("%s is %d, must be ≥ 0", field, n)
	}
	return nil
}

func (m *Join) Validate() error {
	if m.V != ProtocolVersion {
		return fmt.Errorf("join: v is %d, this end speaks protocol version %d", m.V, ProtocolVersion)
	}
	if err := validRendition("join: rendition", m.Rendition); err != nil {
		return err
	}
	if m.Upload.CapBps < 0 || m.Upload.CapBps > MaxUploadCapBps {
		return fmt.Errorf("join: upload.capBps %d is outside 0..%d", m.Upload.CapBps, int64(MaxUploadCapBps))
	}
	return nil
}

func (m *Relay) Validate() error {
	switch {
	case m.To == "" && m.From == "":
		return errors.New("signal: needs to (client → server) or from (server → client)")
	case m.To != "" && m.From != "":
		return errors.New("signal: has both to and from")
	case m.To != "":
		if err := validPeer("signal: to", m.To); err != nil {
			return err
		}
	default:
		if err := validPeer("signal: from", m.From); err != nil {
			return err
		}
	}
	switch {
	case m.SDP == nil && m.Candidate == nil:
		return errors.New("signal: needs sdp or candidate")
	case m.SDP != nil && m.Candidate != nil:
		return errors.New("signal: has both sdp and candidate")
	case m.SDP != nil:
		if m.SDP.Type != "offer" && m.SDP.Type != "answer" {
			return fmt.Errorf("signal: sdp.type %s is not \"offer\" or \"answer\"", quoteShort(m.SDP.Type))
		}
		if m.SDP.SDP == "" {
			return errors.New("signal: sdp.sdp is empty")
		}
		return maxLen("signal: sdp.sdp", m.SDP.SDP, MaxSDPSize)
	default:
		c := m.Candidate
		if err := maxLen("signal: candidate.candidate", c.Candidate, MaxCandidateSize); err != nil {
			return err
		}
		if c.Candidate != "" && !strings.HasPrefix(c.Candidate, "candidate:") {
			return fmt.Errorf("signal: candidate.candidate %s does not start with \"candidate:\"", quoteShort(c.Candidate))
		}
		if err := maxLen("signal: candidate.sdpMid", c.SDPMid, MaxSDPMidSize); err != nil {
			return err
		}
		if c.SDPMLineIndex < 0 || c.SDPMLineIndex > MaxSDPMLineIndex {
			return fmt.Errorf("signal: candidate.sdpMLineIndex %d is outside 0..%d", c.SDPMLineIndex, MaxSDPMLineIndex)
		}
		return nil
	}
}

func (m *Rendition) Validate() error {
	return validRendition("rendition: rendition", m.Rendition)
}

func (m *Stats) Validate() error {
	if err := validRendition("stats: rendition", m.Rendition); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		n    int64
	}{
		{"httpBytes", m.HTTPBytes}, {"p2pBytes", m.P2PBytes}, {"uploadBytes", m.UploadBytes},
		{"stalls", int64(m.Stalls)}, {"stallMs", m.StallMs}, {"peers", int64(m.Peers)},
	} {
		if err := nonNegative("stats: "+f.name, f.n); err != nil {
			return err
		}
	}
	if m.LagMs < -1 {
		return fmt.Errorf("stats: lagMs is %d, must be ≥ 0 or -1 (unknown)", m.LagMs)
	}
	if len(m.From) > MaxListLen {
		return fmt.Errorf("stats: from has %d entries, at most %d allowed", len(m.From), MaxListLen)
	}
	seen := make(map[PeerID]bool, len(m.From))
	for i, r := range m.From {
		field := fmt.Sprintf("stats: from[%d]", i)
		if err := validPeer(field+".peer", r.Peer); err != nil {
			return err
		}
		if seen[r.Peer] {
			return fmt.Errorf("%s.peer %s is listed twice", field, r.Peer)
		}
		seen[r.Peer] = true
		if err := nonNegative(field+".bytes", r.Bytes); err != nil {
			return err
		}
	}
	return validPaths(m.Paths)
}

func validPaths(paths []Path) error {
	if len(paths) > MaxPaths {
		return fmt.Errorf("stats: paths has %d entries, at most %d allowed", len(paths), MaxPaths)
	}
	total := 0
	seen := make(map[Path]bool, len(paths))
	for i, p := range paths {
		field := fmt.Sprintf("stats: paths[%d]", i)
		for _, f := range []struct{ name, v string }{{"local", p.Local}, {"remote", p.Remote}} {
			switch f.v {
			case CandidateHost, CandidateSrflx, CandidatePrflx, CandidateRelay:
			default:
				return fmt.Errorf("%s.%s %s is not %q, %q, %q or %q", field, f.name, quoteShort(f.v),
					CandidateHost, CandidateSrflx, CandidatePrflx, CandidateRelay)
			}
		}
		if p.Protocol != ProtocolUDP && p.Protocol != ProtocolTCP {
			return fmt.Errorf("%s.protocol %s is not %q or %q", field, quoteShort(p.Protocol), ProtocolUDP, ProtocolTCP)
		}
		if p.Count < 1 || p.Count > MaxListLen {
			return fmt.Errorf("%s.count %d is outside 1..%d", field, p.Count, MaxListLen)
		}
		key := p
		key.Count = 0
		if seen[key] {
			return fmt.Errorf("%s (%s/%s/%s) is listed twice", field, p.Local, p.Remote, p.Protocol)
		}
		seen[key] = true
		total += p.Count
	}
	if total > MaxListLen {
		return fmt.Errorf("stats: paths count %d connections in all, more than %d", total, MaxListLen)
	}
	return nil
}

func (m *Report) Validate() error {
	if err := validPeer("report: peer", m.Peer); err != nil {
		return err
	}
	switch m.Reason {
	case ReasonHashMismatch, ReasonProtocol, ReasonTimeout:
		return nil
	}
	return fmt.Errorf("report: reason %s is not %q, %q or %q", quoteShort(m.Reason), ReasonHashMismatch, ReasonProtocol, ReasonTimeout)
}

func (m *Welcome) Validate() error {
	if m.V != ProtocolVersion {
		return fmt.Errorf("welcome: v is %d, this end speaks protocol version %d", m.V, ProtocolVersion)
	}
	if err := validPeer("welcome: id", m.ID); err != nil {
		return err
	}
	if len(m.ICE) > MaxICEServers {
		return fmt.Errorf("welcome: ice has %d servers, more than %d", len(m.ICE), MaxICEServers)
	}
	for i, s := range m.ICE {
		if len(s.URLs) == 0 || len(s.URLs) > MaxICEURLs {
			return fmt.Errorf("welcome: ice[%d].urls has %d entries, want 1..%d", i, len(s.URLs), MaxICEURLs)
		}
		for j, u := range s.URLs {
			field := fmt.Sprintf("welcome: ice[%d].urls[%d]", i, j)
			if err := maxLen(field, u, MaxICEField); err != nil {
				return err
			}
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				return fmt.Errorf("%s %s is not a stun:, turn: or turns: URL", field, quoteShort(u))
			}
		}
		if err := maxLen(fmt.Sprintf("welcome: ice[%d].username", i), s.Username, MaxICEField); err != nil {
			return err
		}
		if err := maxLen(fmt.Sprintf("welcome: ice[%d].credential", i), s.Credential, MaxICEField); err != nil {
			return err
		}
	}
	if m.ICETransportPolicy != "all" && m.ICETransportPolicy != "relay" {
		return fmt.Errorf("welcome: iceTransportPolicy %s is not \"all\" or \"relay\"", quoteShort(m.ICETransportPolicy))
	}
	if m.PartTargetMs < 1 || m.PartTargetMs > MaxDurationMs {
		return fmt.Errorf("welcome: partTargetMs %d is outside 1..%d", m.PartTargetMs, MaxDurationMs)
	}
	if m.MaxFrame < MinFrameSize || m.MaxFrame > MaxFrameSize {
		return fmt.Errorf("welcome: maxFrame %d is outside %d..%d", m.MaxFrame, MinFrameSize, MaxFrameSize)
	}
	return nil
}

func (m *Peers) Validate() error {
	if len(m.Add) > MaxListLen {
		return fmt.Errorf("peers: add has %d entries, more than %d", len(m.Add), MaxListLen)
	}
	if len(m.Remove) > MaxListLen {
		return fmt.Errorf("peers: remove has %d entries, more than %d", len(m.Remove), MaxListLen)
	}
	for i, p := range m.Add {
		if err := validPeer(fmt.Sprintf("peers: add[%d].id", i), p.ID); err != nil {
			return err
		}
	}
	for i, id := range m.Remove {
		if err := validPeer(fmt.Sprintf("peers: remove[%d]", i), id); err != nil {
			return err
		}
	}
	return nil
}

func (m *PartAnnounce) Validate() error {
	if err := m.ID.Validate(); err != nil {
		return fmt.Errorf("part: id: %w", err)
	}
	if m.Size < 1 || m.Size > MaxPartSize {
		return fmt.Errorf("part %s: size %d is outside 1..%d", m.ID, m.Size, MaxPartSize)
	}
	if m.DurationMs < 0 || m.DurationMs > MaxDurationMs {
		return fmt.Errorf("part %s: durationMs %d is outside 0..%d", m.ID, m.DurationMs, MaxDurationMs)
	}
	if len(m.Chunks) > MaxChunks {
		return fmt.Errorf("part %s: %d chunk hashes, more than %d", m.ID, len(m.Chunks), MaxChunks)
	}
	if m.ChunkSize == 0 && len(m.Chunks) == 0 {
		return nil
	}
	if m.ChunkSize < MinChunkSize || m.ChunkSize > MaxPartSize {
		return fmt.Errorf("part %s: chunkSize %d is outside %d..%d", m.ID, m.ChunkSize, MinChunkSize, MaxPartSize)
	}
	if want := (m.Size + m.ChunkSize - 1) / m.ChunkSize; len(m.Chunks) != want {
		return fmt.Errorf("part %s: %d chunk hashes, want %d for size %d in chunks of %d", m.ID, len(m.Chunks), want, m.Size, m.ChunkSize)
	}
	return nil
}

func (m *ServerError) Validate() error {
	if m.Reason == "" {
		return errors.New("error: reason is empty")
	}
	return maxLen("error: reason", m.Reason, MaxReasonSize)
}

// DecodeSignal decodes and validates one signaling message of either
// direction. It rejects messages over MaxSignalSize, anything that is not a
// single JSON object, an unknown or missing "t", unknown fields at any depth,
// fields of the wrong JSON type, and any value outside the protocol's limits.
// The error names the message type and the field that was wrong.
func DecodeSignal(data []byte) (Signal, error) {
	return decodeSignal(data, "")
}

// DecodeFromClient is DecodeSignal for the server: it accepts only the
// messages a client may send (join, signal with "to", have, rendition,
// stats, report).
func DecodeFromClient(data []byte) (Signal, error) {
	return decodeSignal(data, "client")
}

// DecodeFromServer is DecodeSignal for a client: it accepts only the
// messages the server sends (welcome, peers, signal with "from", part,
// error).
func DecodeFromServer(data []byte) (Signal, error) {
	return decodeSignal(data, "server")
}

func decodeSignal(data []byte, from string) (Signal, error) {
	if len(data) > MaxSignalSize {
		return nil, fmt.Errorf("signaling message is %d bytes, longer than %d", len(data), MaxSignalSize)
	}
	var env struct {
		T *string `json:"t"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("signaling message is not a JSON object: %w", err)
	}
	if env.T == nil {
		return nil, errors.New(`signaling message has no "t"`)
	}
	t := *env.T
	switch t {
	case TypeJoin, TypeSignal, TypeRendition, TypeStats, TypeReport,
		TypeWelcome, TypePeers, TypePart, TypeError:
	default:
		return nil, fmt.Errorf("signaling message type %s is unknown", quoteShort(t))
	}
	if err := checkKeys(data); err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	var (
		s   Signal
		err error
	)
	switch t {
	case TypeJoin:
		w := struct {
			T string `json:"t"`
			*Join
		}{Join: new(Join)}
		s, err = w.Join, strictUnmarshal(data, &w)
	case TypeSignal:
		w := struct {
			T string `json:"t"`
			*Relay
		}{Relay: new(Relay)}
		s, err = w.Relay, strictUnmarshal(data, &w)
	case TypeRendition:
		w := struct {
			T string `json:"t"`
			*Rendition
		}{Rendition: new(Rendition)}
		s, err = w.Rendition, strictUnmarshal(data, &w)
	case TypeStats:
		w := struct {
			T string `json:"t"`
			*Stats
		}{Stats: new(Stats)}
		s, err = w.Stats, strictUnmarshal(data, &w)
	case TypeReport:
		w := struct {
			T string `json:"t"`
			*Report
		}{Report: new(Report)}
		s, err = w.Report, strictUnmarshal(data, &w)
	case TypeWelcome:
		w := struct {
			T string `json:"t"`
			*Welcome
		}{Welcome: new(Welcome)}
		s, err = w.Welcome, strictUnmarshal(data, &w)
	case TypePeers:
		w := struct {
			T string `json:"t"`
			*Peers
		}{Peers: new(Peers)}
		s, err = w.Peers, strictUnmarshal(data, &w)
	case TypePart:
		w := struct {
			T string `json:"t"`
			*PartAnnounce
		}{PartAnnounce: new(PartAnnounce)}
		s, err = w.PartAnnounce, strictUnmarshal(data, &w)
	case TypeError:
		w := struct {
			T string `json:"t"`
			*ServerError
		}{ServerError: new(ServerError)}
		s, err = w.ServerError, strictUnmarshal(data, &w)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t, err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch {
	case from == "client" && !s.fromClient():
		return nil, fmt.Errorf("%s: is not a message a client may send", t)
	case from == "server" && !s.fromServer():
		return nil, fmt.Errorf("%s: is not a message the server sends", t)
	}
	return s, nil
}

// strictUnmarshal decodes exactly one JSON value into v, rejecting unknown
// fields and trailing data.
func strictUnmarshal(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// EncodeSignal validates s and encodes it as one JSON object with "t" first.
// It fails rather than produce a message DecodeSignal would reject.
func EncodeSignal(s Signal) ([]byte, error) {
	if s == nil || reflect.ValueOf(s).IsNil() {
		return nil, errors.New("encode: nil signal")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("%s: %w", s.SignalType(), err)
	}
	body := bytes.TrimRight(buf.Bytes(), "\n") // "{...}" or "{}"
	t := s.SignalType()
	out := make([]byte, 0, len(body)+len(t)+8)
	out = append(out, `{"t":"`...)
	out = append(out, t...)
	out = append(out, '"')
	if len(body) > 2 {
		out = append(out, ',')
	}
	out = append(out, body[1:]...)
	if len(out) > MaxSignalSize {
		return nil, fmt.Errorf("%s: encoded message is %d bytes, longer than %d", s.SignalType(), len(out), MaxSignalSize)
	}
	return out, nil
}
