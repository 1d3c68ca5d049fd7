package exchange

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A vector is a scenario for one peer: the events it gets, step by step,
// and every action each step must produce, nothing more. The same files
// drive the browser client's exchange in Node (peerpool/client), so the two
// implementations make the same decisions. Format: testdata/vectors/README.md.
type vector struct {
	Name   string                `json:"name"`
	About  string                `json:"about"`
	Config vectorConfig          `json:"config"`
	Peers  map[string]string     `json:"peers"` // name → PeerID; "me" is this peer
	Parts  map[string]vectorPart `json:"parts"`
	Steps  []vectorStep          `json:"steps"`
}

type vectorConfig struct {
	CanUpload    bool  `json:"canUpload"`
	UploadCapBps int64 `json:"uploadCapBps"`
	Seed         bool  `json:"seed"`
	MaxFrame     int   `json:"maxFrame"`
}

type vectorPart struct {
	R         string `json:"r"`
	MSN       uint64 `json:"msn"`
	I         int    `json:"i"`
	Size      int    `json:"size"`
	ChunkSize int    `json:"chunkSize"` // 0: no chunk hashes
}

type vectorStep struct {
	At        int64             `json:"at"` // ms since the start
	Do        string            `json:"do"`
	Add       []vectorNeighbour `json:"add"`
	Remove    []string          `json:"remove"`
	Peer      string            `json:"peer"`
	Part      string            `json:"part"`
	AttemptMs int64             `json:"attemptMs"`
	Corrupt   bool              `json:"corrupt"`
	Frame     *vectorFrame      `json:"frame"`
	Repeat    int               `json:"repeat"`
	Expect    []vectorOutput    `json:"expect"`
	Received  map[string]int64  `json:"received"`
}

type vectorNeighbour struct {
	Peer     string `json:"peer"`
	Seed     bool   `json:"seed"`
	NoUpload bool   `json:"noUpload"`
}

// vectorFrame is a frame by meaning: t is have, want, cancel, nope or data
// (DATA carries bytes offset..offset+len of the part; corrupt flips its
// last byte), or text (a text message).
type vectorFrame struct {
	T       string `json:"t"`
	Part    string `json:"part"`
	Offset  int    `json:"offset"`
	Len     int    `json:"len"`
	Corrupt bool   `json:"corrupt"`
}

// vectorOutput is one action. Exactly one of the first seven is set.
type vectorOutput struct {
	Connect    string `json:"connect,omitempty"`
	Disconnect string `json:"disconnect,omitempty"`
	Report     string `json:"report,omitempty"`
	Send       string `json:"send,omitempty"`
	Deliver    string `json:"deliver,omitempty"`
	Fetched    string `json:"fetched,omitempty"`
	Error      string `json:"error,omitempty"`

	Offerer bool   `json:"offerer,omitempty"`
	Reason  string `json:"reason,omitempty"`
	T       string `json:"t,omitempty"`
	Part    string `json:"part,omitempty"`
	Offset  int    `json:"offset,omitempty"`
	Len     int    `json:"len,omitempty"`
	From    string `json:"from,omitempty"`
	OK      bool   `json:"ok,omitempty"`
}

func (o vectorOutput) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

// vectorBytes is the content of a vector's part: the same formula in the
// Node runner.
func vectorBytes(p vectorPart) []byte {
	b := make([]byte, p.Size)
	seed := int(p.MSN)*5 + p.I
	for i := range b {
		b[i] = byte(i*31 + (i>>8)*7 + seed)
	}
	return b
}

var frameNames = map[string]wire.FrameType{"have": wire.FrameHave, "want": wire.FrameWant, "cancel": wire.FrameCancel, "nope": wire.FrameNope}

func TestVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var v vector
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			runVector(t, &v)
		})
	}
}

func runVector(t *testing.T, v *vector) {
	ids := map[string]wire.PeerID{}
	names := map[wire.PeerID]string{}
	for name, id := range v.Peers {
		ids[name], names[wire.PeerID(id)] = wire.PeerID(id), name
	}
	parts := map[string]wire.PartID{}
	partNames := map[wire.PartID]string{}
	data := map[string][]byte{}
	ann := map[string]*wire.PartAnnounce{}
	for name, p := range v.Parts {
		id := wire.PartID{Rendition: p.R, MSN: p.MSN, Index: p.I}
		parts[name], partNames[id] = id, name
		b := vectorBytes(p)
		data[name] = b
		a := &wire.PartAnnounce{ID: id, Size: len(b), SHA256: sha256.Sum256(b), DurationMs: 500}
		if p.ChunkSize > 0 {
			a.ChunkSize = p.ChunkSize
			for off := 0; off < len(b); off += p.ChunkSize {
				a.Chunks = append(a.Chunks, sha256.Sum256(b[off:min(off+p.ChunkSize, len(b))]))
			}
		}
		ann[name] = a
	}
	t0 := time.Unix(1_000_000, 0)
	m, err := New(Config{ID: ids["me"], CanUpload: v.Config.CanUpload, UploadCapBps: v.Config.UploadCapBps,
		Seed: v.Config.Seed, MaxFrame: v.Config.MaxFrame}, t0)
	if err != nil {
		t.Fatal(err)
	}
	frame := func(f *vectorFrame) ([]byte, bool) {
		if f.T == "text" {
			return []byte("hello"), true
		}
		id := parts[f.Part]
		if f.T != "data" {
			b, err := wire.AppendFrame(nil, wire.ControlFrame{Type: frameNames[f.T], Part: id})
			if err != nil {
				t.Fatal(err)
			}
			return b, false
		}
		payload := slices.Clone(data[f.Part][f.Offset : f.Offset+f.Len])
		if f.Corrupt {
			payload[len(payload)-1] ^= 0xff
		}
		b, err := wire.AppendFrame(nil, wire.DataFrame{Part: id, Offset: uint32(f.Offset), Total: uint32(len(data[f.Part])), Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return b, false
	}
	describe := func(to wire.PeerID, b []byte) vectorOutput {
		f, err := wire.ParseFrame(b)
		if err != nil {
			t.Fatalf("sent an invalid frame: %v", err)
		}
		o := vectorOutput{Send: names[to]}
		switch f := f.(type) {
		case wire.ControlFrame:
			for n, ft := range frameNames {
				if ft == f.Type {
					o.T = n
				}
			}
			o.Part = partNames[f.Part]
		case wire.DataFrame:
			o.T, o.Part, o.Offset, o.Len = "data", partNames[f.Part], int(f.Offset), len(f.Payload)
		}
		return o
	}
	for i, s := range v.Steps {
		now := t0.Add(time.Duration(s.At) * time.Millisecond)
		var got []vectorOutput
		switch s.Do {
		case "join":
			var add []wire.PeerInfo
			for _, n := range s.Add {
				add = append(add, wire.PeerInfo{ID: ids[n.Peer], Seed: n.Seed, NoUpload: n.NoUpload})
			}
			var remove []wire.PeerID
			for _, n := range s.Remove {
				remove = append(remove, ids[n])
			}
			m.SetNeighbours(now, add, remove)
		case "open":
			m.Opened(now, ids[s.Peer])
		case "close":
			m.Closed(now, ids[s.Peer], "closed")
		case "announce":
			if err := m.Expect(now, ann[s.Part]); err != nil {
				got = append(got, vectorOutput{Error: "announce"})
			}
		case "offer":
			b := data[s.Part]
			if s.Corrupt {
				b = slices.Clone(b)
				b[0] ^= 0xff
			}
			if err := m.Offer(now, parts[s.Part], b); err != nil {
				got = append(got, vectorOutput{Error: "offer"})
			}
		case "want":
			if b := m.Want(now, parts[s.Part], time.Duration(s.AttemptMs)*time.Millisecond); b != nil {
				got = append(got, vectorOutput{Fetched: s.Part, OK: true})
			}
		case "unwant":
			m.Unwant(now, parts[s.Part])
		case "recv":
			b, text := frame(s.Frame)
			for range max(s.Repeat, 1) {
				m.Receive(now, ids[s.Peer], b, text)
			}
		case "advance":
			m.Advance(now)
		default:
			t.Fatalf("step %d: unknown do %q", i, s.Do)
		}
		// Carry out the actions; every neighbour's channel takes all
		// that may go now.
		for more := true; more; {
			more = false
			for {
				o, ok := m.Poll()
				if !ok {
					break
				}
				switch o := o.(type) {
				case Connect:
					got = append(got, vectorOutput{Connect: names[o.Peer], Offerer: o.Offerer})
				case Disconnect:
					got = append(got, vectorOutput{Disconnect: names[o.Peer]})
				case Report:
					got = append(got, vectorOutput{Report: names[o.Peer], Reason: o.Reason})
				case Deliver:
					got = append(got, vectorOutput{Deliver: partNames[o.Part], From: names[o.From]})
				case Fetched:
					got = append(got, vectorOutput{Fetched: partNames[o.Part], OK: o.Data != nil})
				case Wake:
				}
			}
			for _, name := range sortedKeys(ids) {
				for _, b := range m.Flush(now, ids[name]) {
					got = append(got, describe(ids[name], b))
					more = true
				}
			}
		}
		if msg := diffOutputs(got, s.Expect); msg != "" {
			t.Fatalf("step %d (at %d ms, %s): %s", i, s.At, s.Do, msg)
		}
		if s.Received != nil {
			rec := map[string]int64{}
			for _, r := range m.Received() {
				rec[names[r.Peer]] = r.Bytes
			}
			if fmt.Sprint(rec) != fmt.Sprint(s.Received) {
				t.Fatalf("step %d: received %v, want %v", i, rec, s.Received)
			}
		}
	}
}

// diffOutputs compares two lists of actions as multisets.
func diffOutputs(got, want []vectorOutput) string {
	g, w := make([]string, len(got)), make([]string, len(want))
	for i, o := range got {
		g[i] = o.String()
	}
	for i, o := range want {
		w[i] = o.String()
	}
	sort.Strings(g)
	sort.Strings(w)
	if slices.Equal(g, w) {
		return ""
	}
	return fmt.Sprintf("actions\n  got  %s\n  want %s", strings.Join(g, "\n       "), strings.Join(w, "\n       "))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
