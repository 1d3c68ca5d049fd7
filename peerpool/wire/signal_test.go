package wire

import (
	"reflect"
	"strings"
	"testing"
)

const (
	pidA    = "0123456789abcdef0123456789abcdef"
	pidB    = "fedcba9876543210fedcba9876543210"
	hashHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// goodSignals are valid messages of every type, as a client or the server
// would send them; they also seed FuzzDecodeSignal.
var goodSignals = []string{
	`{"t":"join","v":1,"rendition":"720p","upload":{"enabled":true,"capBps":1000000},"saveData":false,"turnOnly":false}`,
	`{"t":"join","v":1,"rendition":"source","upload":{"enabled":false,"capBps":0},"saveData":true,"turnOnly":true}`,
	`{"t":"signal","to":"` + pidA + `","sdp":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}`,
	`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
	`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"","sdpMid":"","sdpMLineIndex":0}}`,
	`{"t":"signal","from":"` + pidB + `","sdp":{"type":"answer","sdp":"v=0"}}`,
	`{"t":"rendition","rendition":"1080p"}`,
	`{"t":"stats","rendition":"720p","httpBytes":10,"p2pBytes":20,"uploadBytes":30,"stalls":1,"stallMs":200,"lagMs":-1,"peers":4}`,
	`{"t":"stats","rendition":"720p","httpBytes":10,"p2pBytes":20,"uploadBytes":30,"stalls":1,"stallMs":200,"lagMs":-1,"peers":2,"from":[{"peer":"` + pidA + `","bytes":16384},{"peer":"` + pidB + `","bytes":0}]}`,
	`{"t":"stats","rendition":"720p","httpBytes":10,"p2pBytes":0,"uploadBytes":0,"stalls":0,"stallMs":0,"lagMs":-1,"peers":3,"from":[],"paths":[{"local":"host","remote":"host","protocol":"udp","count":2},{"local":"relay","remote":"prflx","protocol":"tcp","count":1}],"unreachable":false}`,
	`{"t":"stats","rendition":"720p","httpBytes":10,"p2pBytes":0,"uploadBytes":0,"stalls":0,"stallMs":0,"lagMs":-1,"peers":0,"paths":[],"unreachable":true}`,
	`{"t":"report","peer":"` + pidA + `","reason":"hash-mismatch"}`,
	`{"t":"report","peer":"` + pidA + `","reason":"timeout"}`,
	`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[{"urls":["stun:stun.example.org:3478"]},{"urls":["turn:t.example.org","turns:t.example.org:443?transport=tcp"],"username":"u","credential":"c"}],"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`,
	`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[],"iceTransportPolicy":"relay","partTargetMs":1000,"maxFrame":16384}`,
	`{"t":"peers","add":[{"id":"` + pidA + `","seed":true}],"remove":["` + pidB + `"]}`,
	`{"t":"peers","add":[],"remove":[]}`,
	`{"t":"part","id":{"r":"720p","msn":123,"i":2},"size":4096,"sha256":"` + hashHex + `","durationMs":200,"independent":true}`,
	`{"t":"part","id":{"r":"720p","msn":123,"i":2},"size":2049,"sha256":"` + hashHex + `","durationMs":200,"independent":true,"chunkSize":1024,"chunks":["` + hashHex + `","` + hashHex + `","` + hashHex + `"]}`,
	`{"t":"error","reason":"protocol: bad frame"}`,
}

func TestDecodeGoodSignals(t *testing.T) {
	for _, in := range goodSignals {
		s, err := DecodeSignal([]byte(in))
		if err != nil {
			t.Errorf("DecodeSignal(%s): %v", in, err)
			continue
		}
		// Round trip: encode, decode, equal.
		out, err := EncodeSignal(s)
		if err != nil {
			t.Errorf("EncodeSignal(%#v): %v", s, err)
			continue
		}
		if !strings.HasPrefix(string(out), `{"t":"`+s.SignalType()+`"`) {
			t.Errorf("encoded %s does not start with its type", out)
		}
		s2, err := DecodeSignal(out)
		if err != nil {
			t.Errorf("re-decoding %s: %v", out, err)
			continue
		}
		if !reflect.DeepEqual(s, s2) {
			t.Errorf("round trip of %s: %#v became %#v", in, s, s2)
		}
	}
}

func TestDecodeSignalFields(t *testing.T) {
	s, err := DecodeSignal([]byte(`{"t":"part","id":{"r":"720p","msn":123,"i":2},"size":4096,"sha256":"` + hashHex + `","durationMs":200,"independent":true}`))
	if err != nil {
		t.Fatal(err)
	}
	p := s.(*PartAnnounce)
	want := PartAnnounce{ID: PartID{"720p", 123, 2}, Size: 4096, DurationMs: 200, Independent: true}
	want.SHA256, _ = ParseHash(hashHex)
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("got %+v, want %+v", *p, want)
	}
	if p.ID.String() != "720p/123.2" {
		t.Fatalf("PartID.String() = %q", p.ID.String())
	}
}

func TestDecodeBadSignals(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct{ in, wantErr string }{
		{``, "not a JSON object"},
		{`[]`, "not a JSON object"},
		{`"join"`, "not a JSON object"},
		{`{"v":1}`, `no "t"`},
		{`{"t":"hello"}`, `type "hello" is unknown`},
		{`{"t":"join","v":1,"rendition":"720p"} {}`, "not a JSON object"},
		{`{"t":"join","v":1,"rendition":"720p","extra":1}`, `unknown field "extra"`},
		{`{"t":"join","v":1,"rendition":"720p","upload":{"enabled":true,"capBps":1,"x":2}}`, `unknown field "x"`},
		{`{"t":"join","v":2,"rendition":"720p"}`, "join: v is 2"},
		{`{"t":"join","rendition":"720p"}`, "join: v is 0"},
		{`{"t":"join","v":1,"rendition":"720P"}`, "join: rendition"},
		{`{"t":"join","v":1,"rendition":""}`, "join: rendition"},
		{`{"t":"join","v":1,"rendition":"` + long(33) + `"}`, "join: rendition"},
		{`{"t":"join","v":1,"rendition":"720p","upload":{"capBps":-1}}`, "join: upload.capBps -1"},
		{`{"t":"join","v":1,"rendition":"720p","upload":{"capBps":10000000001}}`, "join: upload.capBps"},
		{`{"t":"join","v":1.5,"rendition":"720p"}`, "v"},
		{`{"t":"join","v":"1","rendition":"720p"}`, "v"},
		{`{"t":"signal","sdp":{"type":"offer","sdp":"x"}}`, "signal: needs to"},
		{`{"t":"signal","to":"` + pidA + `","from":"` + pidB + `","sdp":{"type":"offer","sdp":"x"}}`, "both to and from"},
		{`{"t":"signal","to":"` + strings.ToUpper(pidA) + `","sdp":{"type":"offer","sdp":"x"}}`, "signal: to"},
		{`{"t":"signal","to":"abc","sdp":{"type":"offer","sdp":"x"}}`, "signal: to"},
		{`{"t":"signal","to":"` + pidA + `"}`, "needs sdp or candidate"},
		{`{"t":"signal","to":"` + pidA + `","sdp":{"type":"offer","sdp":"x"},"candidate":{"candidate":""}}`, "both sdp and candidate"},
		{`{"t":"signal","to":"` + pidA + `","sdp":{"type":"pranswer","sdp":"x"}}`, "sdp.type"},
		{`{"t":"signal","to":"` + pidA + `","sdp":{"type":"offer","sdp":""}}`, "sdp.sdp is empty"},
		{`{"t":"signal","to":"` + pidA + `","sdp":{"type":"offer","sdp":"` + long(MaxSDPSize+1) + `"}}`, "sdp.sdp is 12289 bytes"},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"candidate:` + long(600) + `"}}`, "candidate.candidate is"},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"host 1.2.3.4"}}`, `does not start with "candidate:"`},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"","sdpMid":"` + long(33) + `"}}`, "candidate.sdpMid"},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"","sdpMLineIndex":16}}`, "candidate.sdpMLineIndex 16"},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"","sdpMLineIndex":-1}}`, "candidate.sdpMLineIndex -1"},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"candidate":"","usernameFragment":"x"}}`, `unknown field "usernameFragment"`},
		{`{"t":"rendition","rendition":"../x"}`, "rendition: rendition"},
		{`{"t":"stats","rendition":"720p","httpBytes":-5}`, "stats: httpBytes is -5"},
		{`{"t":"stats","rendition":"720p","stalls":-1}`, "stats: stalls is -1"},
		{`{"t":"stats","rendition":"720p","peers":-1}`, "stats: peers is -1"},
		{`{"t":"stats","rendition":"720p","lagMs":-2}`, "stats: lagMs is -2"},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"mdns","remote":"host","protocol":"udp","count":1}]}`, `stats: paths[0].local "mdns" is not`},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"HOST","protocol":"udp","count":1}]}`, `stats: paths[0].remote "HOST" is not`},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"host","protocol":"sctp","count":1}]}`, `stats: paths[0].protocol "sctp" is not`},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"host","protocol":"udp","count":0}]}`, "stats: paths[0].count 0 is outside 1..64"},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"host","protocol":"udp","count":1000000}]}`, "stats: paths[0].count 1000000 is outside"},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"host","protocol":"udp","count":1},{"local":"host","remote":"host","protocol":"udp","count":2}]}`, "stats: paths[1] (host/host/udp) is listed twice"},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"host","protocol":"udp","count":40},{"local":"host","remote":"relay","protocol":"udp","count":40}]}`, "stats: paths count 80 connections in all, more than 64"},
		{`{"t":"stats","rendition":"720p","paths":[{"local":"host","remote":"host","protocol":"udp","count":1,"ip":"192.0.2.1"}]}`, `unknown field "ip"`},
		{`{"t":"stats","rendition":"720p","paths":{}}`, "paths"},
		{`{"t":"stats","rendition":"720p","unreachable":1}`, "unreachable"},
		{`{"t":"stats","rendition":"720p","from":[{"peer":"` + pidA + `","bytes":-1}]}`, "stats: from[0].bytes is -1"},
		{`{"t":"stats","rendition":"720p","from":[{"peer":"` + pidA + `","bytes":1},{"peer":"` + pidA + `","bytes":2}]}`, "stats: from[1].peer " + pidA + " is listed twice"},
		{`{"t":"stats","rendition":"720p","from":[{"peer":"nope","bytes":1}]}`, "stats: from[0].peer"},
		{`{"t":"stats","rendition":"720p","from":[{"peer":"` + pidA + `","bytes":1,"x":1}]}`, `unknown field "x"`},
		{`{"t":"stats","rendition":"720p","httpBytes":1e30}`, "httpBytes"},
		{`{"t":"report","peer":"` + pidA + `","reason":"rude"}`, `report: reason "rude"`},
		{`{"t":"report","reason":"timeout"}`, "report: peer is missing"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","iceTransportPolicy":"all","partTargetMs":200,"maxFrame":100}`, "welcome: maxFrame 100"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65537}`, "welcome: maxFrame 65537"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","iceTransportPolicy":"none","partTargetMs":200,"maxFrame":65536}`, "welcome: iceTransportPolicy"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","iceTransportPolicy":"all","partTargetMs":0,"maxFrame":65536}`, "welcome: partTargetMs 0"},
		{`{"t":"welcome","v":1,"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`, "welcome: id is missing"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[{"urls":["http://x"]}],"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`, "welcome: ice[0].urls[0]"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[{"urls":[]}],"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`, "welcome: ice[0].urls has 0"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[{"urls":["stun:` + long(300) + `"]}],"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`, "welcome: ice[0].urls[0] is"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[{"urls":["turn:x"],"credential":"` + long(257) + `"}],"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`, "welcome: ice[0].credential"},
		{`{"t":"welcome","v":1,"id":"` + pidB + `","ice":[{"urls":["turn:x"],"username":"` + long(257) + `"}],"iceTransportPolicy":"all","partTargetMs":200,"maxFrame":65536}`, "welcome: ice[0].username"},
		{`{"t":"peers","add":[{"id":"x"}]}`, "peers: add[0].id"},
		{`{"t":"peers","remove":[""]}`, "peers: remove[0] is missing"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":0,"sha256":"` + hashHex + `"}`, "part 720p/1.0: size 0"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":16777217,"sha256":"` + hashHex + `"}`, "size 16777217"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":1,"sha256":"` + strings.ToUpper(hashHex) + `"}`, "sha256"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":1,"sha256":"abc"}`, "sha256"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":1,"sha256":"` + hashHex + `","durationMs":-1}`, "durationMs -1"},
		{`{"t":"part","id":{"r":"","msn":1,"i":0},"size":1,"sha256":"` + hashHex + `"}`, "part: id"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":2048,"sha256":"` + hashHex + `","chunkSize":1024,"chunks":["` + hashHex + `"]}`, "1 chunk hashes, want 2"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":2048,"sha256":"` + hashHex + `","chunkSize":1024}`, "0 chunk hashes, want 2"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":2048,"sha256":"` + hashHex + `","chunks":["` + hashHex + `"]}`, "chunkSize 0"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":2048,"sha256":"` + hashHex + `","chunkSize":512,"chunks":["` + hashHex + `"]}`, "chunkSize 512"},
		{`{"t":"part","id":{"r":"720p","msn":1,"i":0},"size":2048,"sha256":"` + hashHex + `","chunkSize":2048,"chunks":["abc"]}`, "sha256"},
		{`{"t":"error","reason":""}`, "error: reason is empty"},
		{`{"t":"error","reason":"` + long(257) + `"}`, "error: reason is 257 bytes"},
		{`{"t":"error","reason":"` + long(MaxSignalSize) + `"}`, "longer than 16384"},
		{`{"t":"join","` + long(16000) + `":1}`, `join: unknown field "aaaa`},
		{`{"T":"join","v":1,"rendition":"720p"}`, `unknown field "T"`},
		{`{"t":"join","V":1,"rendition":"720p"}`, `join: unknown field "V" (keys are case-sensitive)`},
		{`{"t":"join","v":1,"rendition":"720p","upload":{"Enabled":true}}`, `unknown field "Enabled"`},
		{`{"t":"join","t":"rendition","rendition":"a"}`, `field "t" appears twice`},
		{`{"t":"join","v":1,"v":1,"rendition":"720p"}`, `join: field "v" appears twice`},
		{`{"t":"signal","to":"` + pidA + `","candidate":{"sdp":"x"}}`, `unknown field "sdp"`},
	}
	for _, c := range cases {
		_, err := DecodeSignal([]byte(c.in))
		if err == nil {
			t.Errorf("DecodeSignal(%.100s) succeeded, want error containing %q", c.in, c.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("DecodeSignal(%.100s) = %q, want it to contain %q", c.in, err, c.wantErr)
		}
		if len(err.Error()) > 400 {
			t.Errorf("error for %.100s is %d bytes long", c.in, len(err.Error()))
		}
	}
}

func TestDecodeDirection(t *testing.T) {
	for _, in := range goodSignals {
		s, err := DecodeSignal([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		_, errC := DecodeFromClient([]byte(in))
		_, errS := DecodeFromServer([]byte(in))
		var fromClient bool
		switch m := s.(type) {
		case *Join, *Rendition, *Stats, *Report:
			fromClient = true
		case *Relay:
			fromClient = m.To != ""
		}
		if fromClient != (errC == nil) || fromClient == (errS == nil) {
			t.Errorf("%s: client err %v, server err %v", in, errC, errS)
		}
	}
}

func TestEncodeSignalRejectsInvalid(t *testing.T) {
	for _, s := range []Signal{
		nil,
		(*Join)(nil),
		&Join{V: 1},
		&Relay{To: pidA},
		&Peers{Remove: []PeerID{"nope"}},
		&ServerError{Reason: strings.Repeat("x", 300)},
	} {
		if b, err := EncodeSignal(s); err == nil {
			t.Errorf("EncodeSignal(%#v) = %s, want error", s, b)
		}
	}
	b, err := EncodeSignal(&Peers{})
	if err != nil || string(b) != `{"t":"peers","add":null,"remove":null}` {
		t.Errorf("EncodeSignal(&Peers{}) = %s, %v", b, err)
	}
	b, err = EncodeSignal(&Relay{From: pidA, SDP: &SDP{Type: "offer", SDP: "<&>"}})
	if err != nil || string(b) != `{"t":"signal","from":"`+pidA+`","sdp":{"type":"offer","sdp":"<&>"}}` {
		t.Errorf("EncodeSignal(relay) = %s, %v", b, err)
	}
}

func TestPeerID(t *testing.T) {
	a, b := NewPeerID(), NewPeerID()
	if a == b {
		t.Fatal("two NewPeerIDs are equal")
	}
	for _, id := range []PeerID{a, b} {
		if p, err := ParsePeerID(string(id)); err != nil || p != id {
			t.Fatalf("ParsePeerID(%q) = %q, %v", id, p, err)
		}
	}
	for _, s := range []string{"", pidA[:31], pidA + "0", strings.ToUpper(pidA), "g" + pidA[1:]} {
		if _, err := ParsePeerID(s); err == nil {
			t.Errorf("ParsePeerID(%q) succeeded", s)
		}
	}
}

func FuzzDecodeSignal(f *testing.F) {
	for _, s := range goodSignals {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"t":"join","t":"rendition","rendition":"a"}`))
	f.Add([]byte(`{"t":"signal","to":"` + pidA + `","candidate":null,"sdp":null}`))
	f.Add([]byte(`{"t":null}`))
	f.Add([]byte(`{"t":"stats","rendition":"a","paths":[{"local":"host","remote":"relay","protocol":"tcp","count":64}],"unreachable":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSignal(data)
		if err != nil {
			if s != nil {
				t.Fatal("non-nil signal with an error")
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("decoded signal fails Validate: %v", err)
		}
		out, err := EncodeSignal(s)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", data, err)
		}
		s2, err := DecodeSignal(out)
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", out, data, err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed %#v into %#v", s, s2)
		}
	})
}

// TestStatsPathsLimits: every combination once fits; one entry more, or
// a stats message whose paths are missing (an older client), is judged
// as the limits say.
func TestStatsPathsLimits(t *testing.T) {
	types := []string{CandidateHost, CandidateSrflx, CandidatePrflx, CandidateRelay}
	var all []Path
	for _, l := range types {
		for _, r := range types {
			for _, p := range []string{ProtocolUDP, ProtocolTCP} {
				all = append(all, Path{Local: l, Remote: r, Protocol: p, Count: 2})
			}
		}
	}
	if len(all) != MaxPaths {
		t.Fatalf("%d combinations, MaxPaths is %d", len(all), MaxPaths)
	}
	m := &Stats{Rendition: "720p", LagMs: -1, Paths: all}
	if _, err := EncodeSignal(m); err != nil {
		t.Fatalf("every combination once, 64 connections: %v", err)
	}
	m.Paths = append(all, all[0])
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "stats: paths has 33 entries, at most 32") {
		t.Fatalf("33 entries: %v", err)
	}
	s, err := DecodeFromClient([]byte(`{"t":"stats","rendition":"720p","httpBytes":0,"p2pBytes":0,"uploadBytes":0,"stalls":0,"stallMs":0,"lagMs":-1,"peers":0}`))
	if err != nil {
		t.Fatalf("stats without paths and unreachable: %v", err)
	}
	if st := s.(*Stats); st.Paths != nil || st.Unreachable {
		t.Fatalf("missing fields read as %+v", st)
	}
}
