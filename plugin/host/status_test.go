package host

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

var statusNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sampleStatus has several streams, a path far too long for the table, a
// four-rung ladder and a stream waiting for its publisher.
func sampleStatus() contract.Status {
	ladder := []string{"source", "720p", "480p", "360p"}
	long := "live/" + strings.Repeat("a-very-long-event-name-", 6) + "main-stage"
	return contract.Status{Pid: 4711, Version: "v0.4.0-1a2b3c4d5e6f", ListenAddress: ":8880", Started: statusNow.Add(-3*time.Hour - 12*time.Minute),
		Streams: []contract.StreamStatus{
			{Path: long, State: contract.StateAttached, Renditions: ladder, AttachedSince: statusNow.Add(-62 * time.Minute),
				URL: "http://origin.example:8880/" + long + "/index.m3u8", BytesServed: 3 << 30, Viewers: 1234, P2PShare: 0.914,
				Connections: []contract.ConnectionCount{{Type: "host/udp", Count: 12345}, {Type: "srflx/udp", Count: 3210}, {Type: "relay/udp", Count: 987},
					{Type: "host/tcp", Count: 65}, {Type: "srflx/tcp", Count: 43}, {Type: "relay/tcp", Count: 21}}, ViewersWithoutP2P: 17,
				Copies: []contract.RenditionCopies{
					{Rendition: "source", HTTP: 0.25, Peer: 2, Viewers: 800, LastMinuteMade: 1000, LastMinuteSent: 1400},
					{Rendition: "720p", HTTP: 0.5, Peer: 1.5, Viewers: 300, LastMinuteMade: 1000, LastMinuteSent: 1812},
					{Rendition: "480p", HTTP: 1, Peer: 0, Viewers: 100, LastMinuteMade: 1000, LastMinuteSent: 1000},
					{Rendition: "360p", HTTP: 12.5, Peer: 0, Viewers: 34},
				}},
			{Path: "live/show", State: contract.StateAttached, Renditions: []string{"source"}, AttachedSince: statusNow.Add(-42 * time.Second),
				URL: "http://origin.example:8880/live/show/index.m3u8", Viewers: 10, P2PShare: 0.5,
				Connections: []contract.ConnectionCount{{Type: "host/udp", Count: 12}, {Type: "srflx/udp", Count: 3}, {Type: "relay/udp", Count: 1}}, ViewersWithoutP2P: 2,
				Copies: []contract.RenditionCopies{{Rendition: "source", HTTP: 0.75, Peer: 2, Viewers: 10, LastMinuteMade: 4, LastMinuteSent: 11}}},
			{Path: "live/" + strings.Repeat("z", 150), State: contract.StateWaitingForReconnect, Renditions: ladder,
				AttachedSince: statusNow.Add(-50 * time.Hour), BytesServed: 3 << 20},
		}}
}

func TestWriteStatusTable(t *testing.T) {
	for _, f := range []StatusFormat{StatusTable, StatusVerbose} {
		var b strings.Builder
		if err := WriteStatus(&b, sampleStatus(), statusNow, f); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		t.Logf("format %d:\n%s", f, out)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines {
			if f == StatusVerbose && (strings.HasPrefix(l, "  url: ") || strings.HasPrefix(l, "  path: ")) {
				continue // the URL line may be as long as the URL
			}
			if n := utf8.RuneCountInString(l); n > statusWidth {
				t.Errorf("format %d: %d columns: %q", f, n, l)
			}
		}
		for _, want := range []string{
			"swarmtx plugin pid 4711, version v0.4.0-1a2b3c4d5e6f, listening on :8880, up 3h12m, 3 streams\n",
			"SERVER COPIES", "VIEWERS", "LAST MIN", "TOTAL", "P2P",
			"  1234", "91%  attached", "1h02m", "42s", "waiting-for-reconnect  2d02h",
			"\n  connections: host/udp 12, srflx/udp 3, relay/udp 1 · 2 viewers without P2P\n",
			"\n  connections: host/udp 12345, srflx/udp 3210, relay/udp 987, host/tcp 65, srflx/tcp 43,\n" +
				"               relay/tcp 21 · 17 viewers without P2P\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("format %d: missing %q", f, want)
			}
		}
		// Each rendition is a line of its own with its viewers and copies.
		for _, re := range []string{`\nlive/a-very[^ \n]*…[^ \n]*-main-stage +1234 `, `\n  source +800 +1\.40 +2\.25`, `\n  720p +300 +1\.81 +2\.00`, `\n  360p +34 +- +12\.50`,
			`\n  480p +0 +- +-`, `\nlive/show +10 +50%  attached`, `\n  source +10 +2\.75 +2\.75`} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("format %d: no line matching %q", f, re)
			}
		}
		// One connections line per stream with viewers, after its renditions.
		if n := strings.Count(out, "connections:"); n != 2 {
			t.Errorf("format %d: %d connections lines, want 2", f, n)
		}
		if !regexp.MustCompile(`\n  source +10 [^\n]*\n  connections: host/udp 12,`).MatchString(out) {
			t.Errorf("format %d: the connections line does not follow live/show's renditions", f)
		}
		if strings.Index(out, "live/a-") > strings.Index(out, "live/show") || strings.Index(out, "live/show") > strings.Index(out, "live/zzz") {
			t.Errorf("format %d: streams not sorted by path", f)
		}
		verboseOnly := []string{"HTTP", "SEED", "\n  url: http://origin.example:8880/live/show/index.m3u8, served 0 B over HTTP\n",
			"served 3.0 GiB over HTTP", "\n  path: live/" + strings.Repeat("z", 150) + "\n  url: -, served 3.0 MiB over HTTP\n"}
		for _, want := range verboseOnly {
			if strings.Contains(out, want) != (f == StatusVerbose) {
				t.Errorf("format %d: %q shown: %v", f, want, !(f == StatusVerbose))
			}
		}
		if f == StatusVerbose && !regexp.MustCompile(`\n  source +800 +1\.40 +2\.25 +0\.25 +2\.00\n`).MatchString(out) {
			t.Errorf("verbose: no HTTP and seed split for the source rendition")
		}
	}
}

func TestWriteStatusNoStreams(t *testing.T) {
	var b strings.Builder
	WriteStatus(&b, contract.Status{Pid: 7, Version: "v1", ListenAddress: ":8880"}, statusNow, StatusTable)
	if got := b.String(); got != "swarmtx plugin pid 7, version v1, listening on :8880, 0 streams\n" {
		t.Fatalf("%q", got)
	}
	b.Reset()
	WriteStatus(&b, contract.Status{Pid: 7, Version: "v0.0.0-" + strings.Repeat("x", 90), ListenAddress: ":8880"}, statusNow, StatusTable)
	for _, l := range strings.Split(b.String(), "\n") {
		if len(l) > statusWidth && !strings.HasPrefix(l, "swarmtx plugin pid 7, version ") {
			t.Fatalf("header not split: %q", b.String())
		}
	}
	if !strings.Contains(b.String(), ",\nlistening on :8880, 0 streams\n") {
		t.Fatalf("header not split: %q", b.String())
	}
}

func TestWriteStatusJSON(t *testing.T) {
	st := sampleStatus()
	var b strings.Builder
	if err := WriteStatus(&b, st, statusNow, StatusJSON); err != nil {
		t.Fatal(err)
	}
	var doc StatusDoc
	if err := json.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if !reflect.DeepEqual(doc, roundTrip(t, NewStatusDoc(st))) {
		t.Fatalf("round trip differs:\n%+v\n%+v", doc, NewStatusDoc(st))
	}
	if doc.Pid != 4711 || !doc.Started.Equal(st.Started) || len(doc.Streams) != 3 {
		t.Fatalf("%+v", doc)
	}
	s := doc.Streams[0]
	if s.Path != st.Streams[0].Path || s.Viewers != 1234 || s.P2PShare != 0.914 || s.BytesServed != 3<<30 || s.URL == "" || len(s.Renditions) != 4 {
		t.Fatalf("%+v", s)
	}
	r := s.Renditions[0]
	if r.Name != "source" || r.Viewers != 800 || *r.Copies != 2.25 || *r.HTTPCopies != 0.25 || *r.SeedCopies != 2 || *r.CopiesLastMinute != 1.4 {
		t.Fatalf("%+v", r)
	}
	if r := s.Renditions[3]; r.CopiesLastMinute != nil || *r.Copies != 12.5 {
		t.Fatalf("360p: %+v", r)
	}
	if want := map[string]int{"host/udp": 12, "srflx/udp": 3, "relay/udp": 1}; !reflect.DeepEqual(doc.Streams[1].Connections, want) ||
		doc.Streams[1].ViewersWithoutP2P != 2 {
		t.Fatalf("live/show connections %v, %d without P2P", doc.Streams[1].Connections, doc.Streams[1].ViewersWithoutP2P)
	}
	if c := doc.Streams[2].Connections; c == nil || len(c) != 0 {
		t.Fatalf("a stream without connections has %#v, want {}", c)
	}
	if r := doc.Streams[2].Renditions[0]; r.Copies != nil || r.CopiesLastMinute != nil {
		t.Fatalf("a rendition that made nothing has copies: %+v", r)
	}

	// The field names scripts rely on.
	var raw map[string]any
	json.Unmarshal([]byte(b.String()), &raw)
	stream := raw["streams"].([]any)[0].(map[string]any)
	rendition := stream["renditions"].([]any)[0].(map[string]any)
	for m, keys := range map[*map[string]any][]string{
		&raw:       {"pid", "version", "listen_address", "started", "streams"},
		&stream:    {"path", "state", "viewers", "p2p_share", "attached_since", "url", "bytes_served", "renditions", "connections", "viewers_without_p2p"},
		&rendition: {"name", "viewers", "copies", "http_copies", "seed_copies", "copies_last_minute"},
	} {
		for _, k := range keys {
			if _, ok := (*m)[k]; !ok {
				t.Errorf("no %q in %v", k, *m)
			}
		}
	}

	b.Reset()
	WriteStatus(&b, contract.Status{Pid: 7}, statusNow, StatusJSON)
	if !strings.Contains(b.String(), `"streams": []`) || !strings.Contains(b.String(), `"started": null`) {
		t.Fatalf("empty status: %s", b.String())
	}
}

func roundTrip(t *testing.T, d StatusDoc) StatusDoc {
	t.Helper()
	j, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out StatusDoc
	if err := json.Unmarshal(j, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMiddleEllipsis(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{{"live/show", 20, "live/show"}, {"live/show", 9, "live/show"}, {"live/show", 8, "live…how"}, {"abcdefghij", 5, "ab…ij"}} {
		if got := middleEllipsis(c.s, c.n); got != c.want {
			t.Errorf("middleEllipsis(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
