package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// signalCase is one server → client message for signals_check.js and Go's
// verdict on it: the canonical form of what wire.DecodeFromServer read, or
// its error.
type signalCase struct {
	N     int    `json:"n"`
	Text  string `json:"text"`
	OK    bool   `json:"ok"`
	Err   string `json:"err,omitempty"`
	Canon string `json:"canon,omitempty"`
}

// TestJSSignalDecoderAgreesWithGo runs the browser client's signaling
// decoder (decodeFromServer in src/wire.js) in Node on server messages made
// by Go's EncodeSignal and on thousands of mutations of them (keys dropped,
// added or renamed, values swapped for others of every JSON type and for
// edge values, strings bent, text cut short). It fails wherever the browser
// does not accept exactly what wire.DecodeFromServer accepts, or reads it
// differently: the server's messages must mean the same at both ends, and
// neither end may be laxer than the specification in wire's doc.go.
//
// Out of scope: numbers written as 1e3 or 1.0, which JSON.parse cannot
// tell from 1000 and 1 (Go's decoder refuses them for integer fields);
// the server never writes them.
func TestJSSignalDecoderAgreesWithGo(t *testing.T) {
	node := nodeBinary(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var valid [][]byte
	for range 300 {
		m := randomServerSignal(rng)
		b, err := wire.EncodeSignal(m)
		if err != nil {
			t.Fatalf("encoding %T %+v: %v", m, m, err)
		}
		valid = append(valid, b)
	}
	var cases []signalCase
	add := func(text []byte) {
		c := signalCase{N: len(cases), Text: string(text)}
		m, err := wire.DecodeFromServer(text)
		if err != nil {
			c.Err = err.Error()
		} else {
			c.OK, c.Canon = true, canonical(t, m)
		}
		cases = append(cases, c)
	}
	for _, b := range valid {
		add(b)
	}
	for range 20000 {
		b := valid[rng.IntN(len(valid))]
		if rng.IntN(10) == 0 { // bend the text itself
			switch rng.IntN(3) {
			case 0:
				b = b[:rng.IntN(len(b))]
			case 1:
				b = append(append([]byte(nil), b...), " x"[rng.IntN(2)])
			case 2:
				b = bytes.Replace(b, []byte(`"`), []byte(`'`), 1)
			}
			add(b)
			continue
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		v = mutate(rng, v, true)
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		add(out)
	}
	accepted := 0
	for _, c := range cases {
		if c.OK {
			accepted++
		}
	}
	t.Logf("%d messages, %d of them valid for Go", len(cases), accepted)

	runNodeCheck(t, node, "test/signals_check.js", cases)
}

// canonical is "t json" with every field in Go's struct order, nil lists
// as [] (signals_check.js writes the same from the JS decoder's result).
func canonical(t *testing.T, m wire.Signal) string {
	t.Helper()
	var v any = m
	switch m := m.(type) {
	case *wire.Welcome:
		c := *m
		if c.ICE == nil {
			c.ICE = []wire.ICEServer{}
		}
		v = &c
	case *wire.Peers:
		c := *m
		if c.Add == nil {
			c.Add = []wire.PeerInfo{}
		}
		if c.Remove == nil {
			c.Remove = []wire.PeerID{}
		}
		v = &c
	case *wire.PartAnnounce:
		c := *m
		if c.Chunks == nil {
			c.Chunks = []wire.Hash{}
		}
		v = &c
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return m.SignalType() + " " + string(b)
}

func randomPeerID(rng *rand.Rand) wire.PeerID {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return wire.PeerID(hex.EncodeToString(b[:]))
}

func randomText(rng *rand.Rand, min, max int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 =:./-_\"\\é€\n"
	n := min + rng.IntN(max-min+1)
	var b strings.Builder
	for b.Len() < n {
		r := []rune(alphabet)[rng.IntN(len([]rune(alphabet)))]
		if b.Len()+len(string(r)) > n {
			r = 'a'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func pickOne[T any](rng *rand.Rand, vs ...T) T { return vs[rng.IntN(len(vs))] }

func randomServerSignal(rng *rand.Rand) wire.Signal {
	switch rng.IntN(5) {
	case 0:
		w := &wire.Welcome{V: wire.ProtocolVersion, ID: randomPeerID(rng),
			ICETransportPolicy: pickOne(rng, "all", "relay"),
			PartTargetMs:       pickOne(rng, 1, 200, 500, 60000, 1+rng.IntN(60000)),
			MaxFrame:           pickOne(rng, wire.MinFrameSize, wire.MaxFrameSize, wire.MinFrameSize+rng.IntN(wire.MaxFrameSize-wire.MinFrameSize))}
		for range rng.IntN(4) {
			s := wire.ICEServer{Username: pickOne(rng, "", randomText(rng, 1, 40), strings.Repeat("u", 256)),
				Credential: pickOne(rng, "", randomText(rng, 1, 40))}
			for range 1 + rng.IntN(3) {
				s.URLs = append(s.URLs, pickOne(rng, "stun:127.0.0.1:3478", "turn:turn.example:3478?transport=udp", "turns:turn.example:5349", "stun:"+strings.Repeat("h", 251)))
			}
			w.ICE = append(w.ICE, s)
		}
		return w
	case 1:
		p := &wire.Peers{}
		for range rng.IntN(4) {
			p.Add = append(p.Add, wire.PeerInfo{ID: randomPeerID(rng), Seed: rng.IntN(4) == 0, NoUpload: rng.IntN(4) == 0})
		}
		for range rng.IntN(3) {
			p.Remove = append(p.Remove, randomPeerID(rng))
		}
		return p
	case 2:
		r := &wire.Relay{From: randomPeerID(rng)}
		if rng.IntN(2) == 0 {
			r.SDP = &wire.SDP{Type: pickOne(rng, "offer", "answer"), SDP: pickOne(rng, randomText(rng, 1, 300), strings.Repeat("s", 12<<10), strings.Repeat("€", 4<<10))}
		} else {
			r.Candidate = &wire.Candidate{Candidate: pickOne(rng, "", "candidate:"+randomText(rng, 0, 100), "candidate:"+strings.Repeat("c", 502)),
				SDPMid: pickOne(rng, "", "0", strings.Repeat("m", 32)), SDPMLineIndex: rng.IntN(16)}
		}
		return r
	case 3:
		name := pickOne(rng, "source", "720p", "a", strings.Repeat("z9", 16))
		var sum wire.Hash
		for i := range sum {
			sum[i] = byte(rng.Uint32())
		}
		a := &wire.PartAnnounce{ID: wire.PartID{Rendition: name, MSN: pickOne(rng, 0, 1<<53-1, rng.Uint64N(1<<53)), Index: rng.IntN(wire.MaxPartIndex + 1)},
			Size: pickOne(rng, 1, wire.MaxPartSize, 1+rng.IntN(wire.MaxPartSize)), SHA256: sum,
			DurationMs: pickOne(rng, 0, 60000, rng.IntN(60001)), Independent: rng.IntN(2) == 0}
		if rng.IntN(3) > 0 {
			// Chunk hashes: small parts so mutations reach the count check.
			a.Size = pickOne(rng, 1, wire.MinChunkSize, 1+rng.IntN(8*wire.MinChunkSize))
			a.ChunkSize = pickOne(rng, wire.MinChunkSize, wire.MinChunkSize+rng.IntN(wire.MinChunkSize), wire.MaxPartSize)
			for range (a.Size + a.ChunkSize - 1) / a.ChunkSize {
				a.Chunks = append(a.Chunks, wire.Hash(sha256.Sum256([]byte{byte(rng.Uint32())})))
			}
		}
		return a
	default:
		return &wire.ServerError{Reason: pickOne(rng, randomText(rng, 1, 80), strings.Repeat("r", 256))}
	}
}

// edgeValues replace a JSON value: every type, numbers at and past the
// protocol's limits (never past 2^53, where JSON.parse rounds).
var edgeValues = []any{
	nil, true, false, "", "x", "A", "0123456789ABCDEF0123456789ABCDEF", strings.Repeat("a", 300),
	json.Number("0"), json.Number("-1"), json.Number("1"), json.Number("1.5"), json.Number("15"), json.Number("16"),
	json.Number("1000"), json.Number("1001"), json.Number("1023"), json.Number("1024"), json.Number("60000"),
	json.Number("60001"), json.Number("65536"), json.Number("65537"), json.Number("16777216"), json.Number("16777217"),
	json.Number("9007199254740991"), json.Number("-9007199254740991"),
	[]any{}, []any{"x"}, map[string]any{}, map[string]any{"x": json.Number("1")},
}

// mutate changes one place in v (top: v is the message, whose "t" is kept
// most of the time so the mutation reaches a type's own checks).
func mutate(rng *rand.Rand, v any, top bool) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !top || k != "t" || rng.IntN(20) == 0 {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		switch op := rng.IntN(10); {
		case op == 0 || len(keys) == 0:
			x[pickOne(rng, "x", "T", "Seed", "noupload", "__proto__", "constructor")] = edgeValues[rng.IntN(len(edgeValues))]
		case op == 1:
			delete(x, keys[rng.IntN(len(keys))])
		case op == 2:
			k := keys[rng.IntN(len(keys))]
			x[strings.ToUpper(k[:1])+k[1:]] = x[k]
			delete(x, k)
		default:
			k := keys[rng.IntN(len(keys))]
			x[k] = mutate(rng, x[k], false)
		}
		return x
	case []any:
		switch op := rng.IntN(6); {
		case op == 0 || len(x) == 0:
			return append(x, edgeValues[rng.IntN(len(edgeValues))])
		case op == 1:
			i := rng.IntN(len(x))
			return append(x[:i], x[i+1:]...)
		case op == 2:
			for len(x) < 65 {
				x = append(x, x[0])
			}
			return x
		default:
			i := rng.IntN(len(x))
			x[i] = mutate(rng, x[i], false)
			return x
		}
	case string:
		switch rng.IntN(6) {
		case 0:
			return strings.ToUpper(x)
		case 1:
			if x != "" {
				return x[:rng.IntN(len(x))]
			}
		case 2:
			return x + pickOne(rng, "a", "0", "é", " ")
		case 3:
			return x + strings.Repeat("€", 100)
		}
		return edgeValues[rng.IntN(len(edgeValues))]
	case json.Number:
		if rng.IntN(2) == 0 {
			if n, err := x.Int64(); err == nil {
				return json.Number(fmt.Sprint(n + int64(pickOne(rng, -1, 1))))
			}
		}
		return edgeValues[rng.IntN(len(edgeValues))]
	}
	return edgeValues[rng.IntN(len(edgeValues))]
}
