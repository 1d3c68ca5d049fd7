package client

import (
	"encoding/json"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

type statsCase struct {
	Msg map[string]any `json:"msg"`
	OK  bool           `json:"ok"`
}

// TestJSStatsAgreeWithGo: the browser client sends a stats message's paths
// and unreachable exactly when the server would accept them, and reads the
// candidate pair in use from getStats' report.
func TestJSStatsAgreeWithGo(t *testing.T) {
	node := nodeBinary(t)
	path := func(l, r, p string, n any) map[string]any {
		return map[string]any{"local": l, "remote": r, "protocol": p, "count": n}
	}
	var all []any
	for _, l := range []string{"host", "srflx", "prflx", "relay"} {
		for _, r := range []string{"host", "srflx", "prflx", "relay"} {
			for _, p := range []string{"udp", "tcp"} {
				all = append(all, path(l, r, p, 2))
			}
		}
	}
	variants := []map[string]any{
		{},
		{"paths": []any{}},
		{"paths": []any{path("host", "host", "udp", 3)}, "unreachable": false},
		{"paths": []any{path("host", "srflx", "udp", 1), path("relay", "prflx", "tcp", 63)}},
		{"paths": all},
		{"paths": append(append([]any(nil), all...), path("host", "host", "udp", 1))},
		{"paths": []any{path("host", "srflx", "udp", 1), path("host", "srflx", "udp", 1)}},
		{"paths": []any{path("host", "srflx", "udp", 40), path("relay", "srflx", "udp", 25)}},
		{"paths": []any{path("mdns", "host", "udp", 1)}},
		{"paths": []any{path("host", "Host", "udp", 1)}},
		{"paths": []any{path("host", "host", "UDP", 1)}},
		{"paths": []any{path("host", "host", "udp", 0)}},
		{"paths": []any{path("host", "host", "udp", 65)}},
		{"paths": []any{path("host", "host", "udp", 1.5)}},
		{"paths": []any{path("host", "host", "udp", "1")}},
		{"paths": []any{map[string]any{"local": "host", "remote": "host", "protocol": "udp", "count": 1, "ip": "x"}}},
		{"paths": []any{map[string]any{"local": "host", "remote": "host", "count": 1}}},
		{"paths": "host"},
		{"unreachable": true},
		{"unreachable": 1},
	}
	var cases []statsCase
	for _, v := range variants {
		msg := map[string]any{"t": "stats", "rendition": "720p", "httpBytes": 1, "p2pBytes": 2, "uploadBytes": 3,
			"stalls": 0, "stallMs": 0, "lagMs": -1, "peers": 1}
		for k, x := range v {
			msg[k] = x
		}
		data, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = wire.DecodeFromClient(data)
		cases = append(cases, statsCase{Msg: msg, OK: err == nil})
	}
	runNodeCheck(t, node, "test/stats_check.js", cases)
}
