// Package wire is the swarmtx peer protocol: the signaling messages a peer
// exchanges with the server over the stream's WebSocket, the binary frames
// neighbours exchange over WebRTC data channels, and the verified
// reassembly of LL-HLS parts from those frames. Every peer speaks it: the
// browser client, the Go peer (tests, benchmark, `swarmtx relay`) and the
// plugin's own seeding peer. This comment is the specification.
//
// Everything here treats its input as hostile: sizes are checked before
// anything is allocated, unknown fields and values are errors (never
// ignored), and errors name the message and the field that was wrong and
// quote at most 40 bytes of the offending value. A receiver that gets an
// error closes that session or data channel (the server sends "error"
// first; a peer reports the neighbour with reason "protocol").
//
// # Identifiers
//
// PeerID: 16 random bytes as 32 lower-case hex characters
// ("0123456789abcdef0123456789abcdef"); assigned by the server in welcome.
// Upper case is rejected.
//
// PartID: one LL-HLS part, the file part<msn>.<index>.m4s of a rendition's
// playlist. Rendition: 1..32 characters a-z0-9 (not "index"); msn: 0..2^53−1
// (so a JavaScript number holds it exactly); index: 0..1000. JSON form
// {"r":"720p","msn":123,"i":2}; text form "720p/123.2".
//
// Hashes are SHA-256 as 64 lower-case hex characters.
//
// # Signaling (WebSocket /{path}/swarm, one JSON object per text message)
//
// Every message is a JSON object of at most 16 KiB (MaxSignalSize) whose
// "t" names its type. Keys are exactly as below (case-sensitive); a key not
// listed, a missing "t", an unknown "t", a value of the wrong JSON type, a
// fractional or out-of-range number, or anything after the object is an
// error. Omitted fields take their zero value (false, 0, "", empty list) and
// are then checked like any other value; JSON null is the same as omitting
// the field. Lengths are in bytes of UTF-8.
//
// Client → server:
//
//	{"t":"join", "v":1, "rendition":"720p",
//	 "upload":{"enabled":true, "capBps":250000}, "saveData":false, "turnOnly":false}
//	    First message. v must be ProtocolVersion (1). capBps: upload cap in
//	    bytes/s, 0..10^10, 0 = no cap stated. saveData: the browser asked to
//	    save data (the server will not make this peer upload). turnOnly: the
//	    viewer must not expose its address; the server answers with relay-only
//	    ICE.
//	{"t":"signal", "to":PeerID, "sdp":{"type":"offer"|"answer", "sdp":"..."}}
//	{"t":"signal", "to":PeerID, "candidate":{"candidate":"candidate:...", "sdpMid":"0", "sdpMLineIndex":0}}
//	    Relayed by the server to peer "to". Exactly one of sdp and candidate.
//	    sdp.sdp: 1..12 KiB. candidate.candidate: ≤ 512 bytes, starting with
//	    "candidate:", or "" for end-of-candidates; sdpMid ≤ 32 bytes (send ""
//	    for null); sdpMLineIndex 0..15 (send 0 for null). No other
//	    RTCIceCandidateInit keys (e.g. usernameFragment) are accepted.
//	{"t":"rendition", "rendition":"480p"}
//	    The player switched rendition; neighbours are kept.
//	{"t":"stats", "rendition":"720p", "httpBytes":0, "p2pBytes":0,
//	 "uploadBytes":0, "stalls":0, "stallMs":0, "lagMs":-1, "peers":0,
//	 "from":[{"peer":PeerID, "bytes":0}, ...],
//	 "paths":[{"local":"host", "remote":"srflx", "protocol":"udp", "count":2}, ...],
//	 "unreachable":false}
//	    Totals since join; all ≥ 0 except lagMs, which may be -1 (unknown).
//	    from: up to 64 neighbours this peer has an open data channel with,
//	    each once, with the verified part bytes received from it since it
//	    last became a neighbour (a neighbour removed and added again starts
//	    from 0). The server credits a peer's upload and standing only from
//	    what its receivers list here, never from its own uploadBytes.
//	    paths (optional): the open peer connections counted by the ICE
//	    candidate pair selected for each: local and remote candidate type
//	    ("host", "srflx", "prflx" or "relay") and protocol ("udp" or
//	    "tcp"); each combination at most once, counts 1..64 and at most 64
//	    in all. unreachable (optional): the peer was offered neighbours and
//	    no data channel opened within UnreachableAfterMs of the first
//	    offer, nor since; the server then offers it to nobody (it keeps
//	    watching over HTTP).
//	{"t":"report", "peer":PeerID, "reason":"hash-mismatch"|"protocol"|"timeout"}
//	    A neighbour misbehaved ("timeout": its data channel did not open in
//	    time, or it takes WANTs and never delivers, see below). A report is
//	    a claim, not a verdict: the server cuts the link
//	    between the two and never pairs them again; it bans only when
//	    reporters on several networks, each with delivery their receivers
//	    confirmed, agree.
//
// Server → client:
//
//	{"t":"welcome", "v":1, "id":PeerID,
//	 "ice":[{"urls":["stun:host:3478"], "username":"u", "credential":"c"}],
//	 "iceTransportPolicy":"all"|"relay", "partTargetMs":200, "maxFrame":65536}
//	    Answer to join. ice: ≤ 8 servers, each 1..8 urls of ≤ 256 bytes
//	    starting stun:, turn: or turns:; username, credential ≤ 256 bytes
//	    (omitted when empty). partTargetMs 1..60000. maxFrame 1024..65536:
//	    the largest data-channel frame this peer may send. The server's
//	    seeders push every part into the swarm, so a viewer waits for its
//	    neighbours before fetching a part over HTTP.
//	{"t":"peers", "add":[{"id":PeerID, "seed":true, "noUpload":false}], "remove":[PeerID]}
//	    Neighbour changes, ≤ 64 each (either may be null). seed marks the
//	    server's own peer and relays. noUpload marks a neighbour that will
//	    not upload (it opted out, or the server lets it only receive, e.g.
//	    because its address was banned): ignore its HAVE and never WANT from
//	    it, so any DATA it sends is a protocol error. For each added pair the server decides
//	    who offers (an implementation detail of the server, not of this
//	    package).
//	{"t":"signal", "from":PeerID, "sdp":{...}} / {"t":"signal", "from":PeerID, "candidate":{...}}
//	    A relayed message from peer "from"; same rules as above.
//	{"t":"part", "id":PartID, "size":4096, "sha256":"<64 hex>",
//	 "durationMs":200, "independent":true, "chunkSize":16384, "chunks":["<64 hex>", ...]}
//	    Sent the moment a part is cut, before any playlist lists it. size
//	    1..16 MiB; durationMs 0..60000; independent: the part starts with a
//	    key frame. The sha256 here is the only authority on a part's bytes.
//	    chunks (optional, with chunkSize): the SHA-256 of each chunkSize
//	    bytes of the part, the last chunk possibly shorter; chunkSize
//	    1024..16 MiB, exactly ceil(size/chunkSize) hashes, at most 128.
//	    Both are omitted (or 0 and empty) together.
//	{"t":"error", "reason":"..."}
//	    1..256 bytes; sent before the server closes the session.
//
// The server decodes with DecodeFromClient, a client with DecodeFromServer;
// each rejects messages from the other direction (a "signal" from a client
// must have "to" and not "from", and the reverse).
//
// # Data channel
//
// Each pair of neighbours opens one reliable, ordered RTCDataChannel
// labelled "parts" (DataChannelLabel), binary messages only. Every message
// is one frame of at most 64 KiB (MaxFrameSize), and no larger than the
// maxFrame the sender was given in welcome. Integers are big-endian. Byte 0
// is the type:
//
//	1 HAVE    PartID                  I hold this part and have verified it.
//	2 WANT    PartID                  Please send this part.
//	3 DATA    PartID offset total data  Bytes [offset, offset+len(data)) of the part.
//	4 CANCEL  PartID                  Stop sending this part / forget my WANT.
//	5 NOPE    PartID                  I don't have it / won't send it.
//
//	PartID = n:uint8 (1..32) | rendition: n bytes a-z0-9 | msn: uint64 (≤ 2^53−1) | index: uint16 (≤ 1000)
//	DATA   = 3 | PartID | offset: uint32 | total: uint32 | data: the rest of the frame
//
// HAVE, WANT, CANCEL and NOPE carry nothing after the PartID. DATA rules:
// data is non-empty, total is 1..16 MiB (MaxPartSize) and equals the size
// announced in "part", offset+len(data) ≤ total. A part is sent as DATA
// frames in order with no gaps or overlaps: the first at offset 0, each
// next one at the previous offset plus its length, the last ending at total
// (ChunkPart produces exactly this). A sender may interleave frames of
// different parts, but the frames of any one part stay in order. The
// frame header is 20+len(rendition) bytes (DataHeaderLen), so a data
// payload is at most maxFrame − DataHeaderLen.
//
// A receiver verifies the SHA-256 of a completed part against the announced
// hash before it plays it (Assembler does this). It forwards only verified
// bytes: a part announced without chunks once complete; a part announced
// with chunks chunk by chunk, each verified against its chunk hash as soon
// as its last byte arrives. A peer says HAVE for a part it holds whole or,
// for a part with chunks, once the first chunk is verified while the rest
// is still arriving; it answers a WANT for such a part by sending DATA as
// the verified bytes grow, so a receiver must expect DATA paced by the
// sender's own download (it may CANCEL and ask elsewhere when no DATA comes
// for too long). A sender should end DATA frames at chunk boundaries.
//
// A peer that accepts a WANT starts sending within StartWithinMs or
// answers NOPE: a busy peer declines (and says HAVE again when it is no
// longer busy). So a WANT that brought neither a byte nor a NOPE within
// FirstByteMs marks the neighbour as taking WANTs and delivering nothing:
// after MaxFruitlessWants of those in a row, or MaxUnprovenNopes NOPEs
// while it has never delivered a verified byte, the receiver drops it and
// reports "timeout".
//
// A hash mismatch means the sender is bad: close the channel and send
// {"t":"report", "reason":"hash-mismatch"}. Any frame that fails to parse,
// a DATA frame out of order, for a part not asked for, or with the wrong
// total is a protocol error ("protocol"). A peer receiving DATA before the
// "part" announcement for it has no hash to verify against and must treat
// that as a protocol error too, or wait for the announcement.
//
// Senders respect RTCDataChannel.bufferedAmount back-pressure: they stop
// queueing frames above a threshold and resume on bufferedamountlow.
//
// # Go API
//
// DecodeSignal, DecodeFromClient, DecodeFromServer and EncodeSignal read and
// write signaling messages (Signal is *Join, *Relay, *Rendition,
// *Stats, *Report, *Welcome, *Peers, *PartAnnounce or *ServerError);
// EncodeSignal validates first, so it never emits what a decoder rejects.
// AppendFrame and ParseFrame write and read frames (ControlFrame,
// DataFrame); a parsed DataFrame's payload aliases the input buffer.
// ChunkPart cuts a part into DATA frames; Assembler puts them back together
// and verifies the hash (ErrHashMismatch).
package wire

// DataChannelLabel is the label of the one data channel per neighbour pair.
const DataChannelLabel = "parts"
