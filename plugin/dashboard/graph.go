package dashboard

import (
	"cmp"
	"slices"

	"github.com/swarmtx/swarmtx/peerpool/signal"
)

// Graph is the picture of a swarm: the plugin's seeders and the viewers
// as nodes, and who fed whom over the last samples as edges weighted by
// the bytes the receiver confirmed.
type Graph struct {
	At    int64  `json:"at"` // Unix milliseconds of the sample
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
	// TotalNodes and TotalEdges are the swarm's; when they are more than
	// sent, Truncated is set and MaxNodes/MaxEdges say the bound.
	TotalNodes int  `json:"total_nodes"`
	TotalEdges int  `json:"total_edges"`
	Truncated  bool `json:"truncated"`
	MaxNodes   int  `json:"max_nodes"`
	MaxEdges   int  `json:"max_edges"`
	// EdgeWindowMs is the span an edge's bytes were received over.
	EdgeWindowMs int64 `json:"edge_window_ms"`
}

// Node is a seeder (Kind "seed") or a viewer ("viewer").
type Node struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Rendition string `json:"rendition"`
	// Seeds is a seeder's seed count.
	Seeds int `json:"seeds,omitempty"`
	// A viewer's standing and last stats.
	SeedTarget  bool  `json:"seed_target,omitempty"`
	Uploads     bool  `json:"uploads,omitempty"`
	Waiting     bool  `json:"waiting,omitempty"` // outside the mesh, behind its network's sessions on probation
	Unreachable bool  `json:"unreachable,omitempty"`
	LagMs       int64 `json:"lag_ms"` // -1 unknown
	Stalls      int   `json:"stalls"`
	HTTPBytes   int64 `json:"http_bytes"`
	P2PBytes    int64 `json:"p2p_bytes"`
	Neighbours  int   `json:"neighbours"`
}

// Edge says To received Bytes from From over the edge window.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Bytes int64  `json:"bytes"`
}

// Kinds of nodes.
const (
	KindSeed   = "seed"
	KindViewer = "viewer"
)

// buildGraph draws the whole swarm: every seeder and viewer, and every
// link that carried bytes over the window.
func buildGraph(sw *signal.Snapshot, edges map[edgeKey]*edgeRecent) *Graph {
	g := &Graph{At: sw.At.UnixMilli()}
	targets := make(map[string]bool)
	for _, s := range sw.Seeds {
		g.Nodes = append(g.Nodes, Node{ID: string(s.ID), Kind: KindSeed, Rendition: s.Rendition, Seeds: s.Count, LagMs: -1})
		for _, t := range s.Targets {
			targets[string(t)] = true
		}
	}
	for _, v := range sw.Viewers {
		g.Nodes = append(g.Nodes, Node{
			ID: string(v.ID), Kind: KindViewer, Rendition: v.Rendition,
			SeedTarget: targets[string(v.ID)], Uploads: v.Uploads, Waiting: !v.InMesh, Unreachable: v.Unreachable,
			LagMs: v.LagMs, Stalls: v.Stalls, HTTPBytes: v.HTTPBytes, P2PBytes: v.P2PBytes, Neighbours: v.Neighbours,
		})
	}
	for key, e := range edges {
		if n := e.sum(); n > 0 {
			g.Edges = append(g.Edges, Edge{From: string(key.from), To: string(key.to), Bytes: n})
		}
	}
	sortEdges(g.Edges)
	g.TotalNodes, g.TotalEdges = len(g.Nodes), len(g.Edges)
	return g
}

// sortEdges puts the heaviest first, ties in a fixed order.
func sortEdges(edges []Edge) {
	slices.SortFunc(edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
}

// capped is g with at most maxNodes nodes and maxEdges edges. The nodes
// kept are the top of the swarm: the seeders, then the viewers they feed,
// breadth first along the heaviest links, then the rest in the hub's
// order; the edges kept are the heaviest between kept nodes.
func (g *Graph) capped(maxNodes, maxEdges int) Graph {
	c := *g
	c.MaxNodes, c.MaxEdges = maxNodes, maxEdges
	if len(g.Nodes) <= maxNodes && len(g.Edges) <= maxEdges {
		return c
	}
	c.Truncated = true
	out := make(map[string][]string) // g.Edges are heaviest first
	for _, e := range g.Edges {
		out[e.From] = append(out[e.From], e.To)
	}
	byID := make(map[string]int, len(g.Nodes))
	for i, n := range g.Nodes {
		byID[n.ID] = i
	}
	keep := make(map[string]bool, maxNodes)
	var order []int
	take := func(id string) {
		if i, ok := byID[id]; ok && !keep[id] && len(order) < maxNodes {
			keep[id] = true
			order = append(order, i)
		}
	}
	var queue []string
	for _, n := range g.Nodes {
		if n.Kind == KindSeed {
			take(n.ID)
			queue = append(queue, n.ID)
		}
	}
	for len(queue) > 0 && len(order) < maxNodes {
		id := queue[0]
		queue = queue[1:]
		for _, to := range out[id] {
			if !keep[to] {
				take(to)
				queue = append(queue, to)
			}
		}
	}
	for _, n := range g.Nodes {
		take(n.ID)
	}
	slices.Sort(order) // the graph's own order: seeders, then viewers as the hub keeps them
	c.Nodes = make([]Node, 0, len(order))
	for _, i := range order {
		c.Nodes = append(c.Nodes, g.Nodes[i])
	}
	c.Edges = make([]Edge, 0, min(len(g.Edges), maxEdges))
	for _, e := range g.Edges {
		if len(c.Edges) == maxEdges {
			break
		}
		if keep[e.From] && keep[e.To] {
			c.Edges = append(c.Edges, e)
		}
	}
	return c
}
