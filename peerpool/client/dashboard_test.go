package client

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/peerpool/client/internal/bundler"
)

// TestDashboardBundleIsUpToDate rebuilds the dashboard's script from
// src/dashboard/ and compares it with the committed one.
func TestDashboardBundleIsUpToDate(t *testing.T) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "dashboard.js")
	if err := bundler.Dashboard(dir, out); err != nil {
		t.Fatal(err)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, []byte(dashboardJS)) {
		t.Fatal("dist/dashboard.js is stale: run `go generate ./peerpool/client` and commit it")
	}
}

// The page carries its whole script and nothing that would end it early,
// and loads nothing from anywhere.
func TestDashboardPageIsSelfContained(t *testing.T) {
	rec := httptest.NewRecorder()
	ServeDashboard(rec, httptest.NewRequest("GET", "/_swarmtx/", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
	}
	if !strings.Contains(body, dashboardJS) {
		t.Error("the page does not carry the dashboard's script")
	}
	if n := strings.Count(strings.ToLower(body), "</script"); n != 1 {
		t.Errorf("%d script ends in the page, want 1", n)
	}
	// url(#id) names a part of the page itself (the swarm's arrowheads).
	own := strings.ReplaceAll(body, "url(#", "")
	for _, external := range []string{"src=", "href=\"http", "@import", "url("} {
		if strings.Contains(own, external) {
			t.Errorf("the page loads something (%s)", external)
		}
	}
	rec = httptest.NewRecorder()
	ServeDashboard(rec, httptest.NewRequest("HEAD", "/_swarmtx/", nil))
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD wrote %d bytes, Content-Length %q", rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

type dashboardCase struct {
	Name       string         `json:"name"`
	Renditions []string       `json:"renditions"`
	Graph      map[string]any `json:"graph"`
	Want       map[string]int `json:"want"`
}

// TestDashboardDrawing: the swarm picture puts seeders on top, each viewer
// one row below the nearest that fed it, the unfed at the bottom, and
// draws every node and link; the charts' helpers do what they say.
func TestDashboardDrawing(t *testing.T) {
	node := nodeBinary(t)
	n := func(id, kind, rendition string) map[string]any {
		return map[string]any{"id": id, "kind": kind, "rendition": rendition, "lag_ms": -1, "neighbours": 1}
	}
	e := func(from, to string, b int) map[string]any { return map[string]any{"from": from, "to": to, "bytes": b} }
	cases := []dashboardCase{
		{
			Name: "a chain and an unfed viewer", Renditions: []string{"source", "360p"},
			Graph: map[string]any{
				"nodes": []any{n("S", "seed", "source"), n("a", "viewer", "source"), n("b", "viewer", "source"), n("c", "viewer", "source"), n("d", "viewer", "360p")},
				"edges": []any{e("S", "a", 1000), e("a", "b", 500), e("b", "c", 10), e("S", "c", 20), e("c", "a", 5)},
			},
			Want: map[string]int{"S": 0, "a": 1, "c": 1, "b": 2, "d": 3},
		},
		{
			Name: "two seeders, links between renditions", Renditions: []string{"source", "360p"},
			Graph: map[string]any{
				"nodes": []any{n("S1", "seed", "source"), n("S2", "seed", "360p"), n("x", "viewer", "360p"), n("y", "viewer", "source"), n("<script>", "viewer", "<b>")},
				"edges": []any{e("S2", "x", 9), e("x", "y", 9), e("S1", "<script>", 3)},
			},
			Want: map[string]int{"S1": 0, "S2": 0, "x": 1, "y": 2, "<script>": 1},
		},
		{
			Name: "nobody fed", Renditions: []string{"source"},
			Graph: map[string]any{"nodes": []any{n("S", "seed", "source"), n("a", "viewer", "source")}, "edges": []any{}},
			Want:  map[string]int{"S": 0, "a": 1},
		},
		{
			Name: "an empty swarm", Renditions: []string{},
			Graph: map[string]any{"nodes": []any{}, "edges": []any{}},
			Want:  map[string]int{},
		},
	}
	runNodeCheck(t, node, "test/dashboard_check.js", cases)
}
