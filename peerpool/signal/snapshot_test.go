package signal

import (
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// A snapshot shows every viewer with its rendition and last stats, the
// seeders with their targets, and who feeds whom as the receivers confirm
// it, only between current neighbours.
func TestCoreSnapshot(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	c := NewCore(t0, Config{Logger: quiet}, &fullMesh{})
	seed := wire.PeerID("seed-720p")
	c.AddSeed(t0, "720p", seed)
	var ids []wire.PeerID
	for i := range 3 {
		id, from := coreViewer(i)
		rendition := "720p"
		if i == 2 {
			rendition = "360p"
		}
		if r := c.Join(t0, id, uploader(rendition), from); r != "" {
			t.Fatal(r)
		}
		ids = append(ids, id)
	}
	drain(c)
	stranger := wire.PeerID("not-a-neighbour")
	st := &wire.Stats{Rendition: "720p", HTTPBytes: 10, P2PBytes: 500, Stalls: 1, LagMs: 1800,
		From:  []wire.Received{{Peer: ids[0], Bytes: 300}, {Peer: stranger, Bytes: 999}, {Peer: ids[2], Bytes: 0}},
		Paths: []wire.Path{{Local: "host", Remote: "srflx", Protocol: "udp", Count: 1}}}
	if r := c.Stats(t0, ids[1], st); r != "" {
		t.Fatal(r)
	}
	s := c.Snapshot(t0.Add(time.Second))
	if len(s.Viewers) != 3 || len(s.Seeds) != 1 {
		t.Fatalf("%d viewers, %d seeds", len(s.Viewers), len(s.Seeds))
	}
	if sd := s.Seeds[0]; sd.ID != seed || sd.Rendition != "720p" || sd.Count != 1 || len(sd.Targets) != 1 {
		t.Errorf("seed %+v, want the 720p seeder with one target", sd)
	}
	v0, v1, v2 := s.Viewers[0], s.Viewers[1], s.Viewers[2]
	if v0.Reported || v0.LagMs != -1 || v0.ID != ids[0] || v0.Rendition != "720p" || !v0.Uploads || !v0.InMesh {
		t.Errorf("viewer without stats: %+v", v0)
	}
	if v2.Rendition != "360p" {
		t.Errorf("third viewer on %q, want 360p", v2.Rendition)
	}
	if !v1.Reported || v1.LagMs != 1800 || v1.P2PBytes != 500 || v1.Stalls != 1 || v1.HTTPBytes != 10 {
		t.Errorf("reporting viewer: %+v", v1)
	}
	if len(v1.From) != 1 || v1.From[0] != (wire.Received{Peer: ids[0], Bytes: 300}) {
		t.Errorf("from %+v, want only the neighbour that sent bytes", v1.From)
	}
	if v1.Connections[1] != 1 {
		t.Errorf("connections %v, want one srflx/udp", v1.Connections)
	}
	// The snapshot is a copy: what the core does next does not show in it.
	st2 := *st
	st2.P2PBytes = 800
	c.Stats(t0, ids[1], &st2)
	c.Leave(t0, ids[0])
	if s.Viewers[1].P2PBytes != 500 || len(s.Viewers) != 3 {
		t.Error("the snapshot changed with the core")
	}
}

func TestRefusalKinds(t *testing.T) {
	for reason, want := range map[string]string{
		"the swarm is full (3 viewers)": RefusedFull,
		"too many swarm sessions from your network 203.0.113.5/32 (2, the limit; config key swarmMaxSessionsPerNetwork)":     RefusedNetworkSessions,
		"too many joins from your network 203.0.113.5/32 (more than 2 per second; config key swarmJoinsPerSecondPerNetwork)": RefusedNetworkJoins,
		"that peer id has joined already": RefusedOther,
	} {
		if got := refusalKind(reason); got != want {
			t.Errorf("%q: %s, want %s", reason, got, want)
		}
	}
}

// The hub counts the joins it refuses, by kind, into its snapshot.
func TestHubSnapshotCountsRefusals(t *testing.T) {
	h, url := newHubServer(t, Config{MaxSessionsPerNetwork: 1})
	joinWith(t, url, "720p", from("203.0.113.5"))
	c := dialWith(t, url, from("203.0.113.5"))
	c.send(&wire.Join{V: 1, Rendition: "720p", Upload: wire.Upload{Enabled: true}})
	c.closedWith("too many swarm sessions")
	s := h.Snapshot()
	if len(s.Viewers) != 1 || s.Refused[RefusedNetworkSessions] != 1 || len(s.Refused) != 1 {
		t.Errorf("%d viewers, refused %v; want 1 viewer and one refusal for the network's sessions", len(s.Viewers), s.Refused)
	}
}
