package integration

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/peerpool/wire"
)

// TestSwarmAnnouncesPartHashes: a viewer joining /{path}/swarm is told each
// part's size and SHA-256 as the part is cut (the plugin announces before
// the origin lists it), and the hash matches the bytes the origin serves.
func TestSwarmAnnouncesPartHashes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source"})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.base(), "http")+"/live/show/swarm", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	join, _ := wire.EncodeSignal(&wire.Join{V: wire.ProtocolVersion, Rendition: "source"})
	if err := c.Write(ctx, websocket.MessageText, join); err != nil {
		t.Fatal(err)
	}
	announced := map[wire.PartID]*wire.PartAnnounce{}
	var fresh []*wire.PartAnnounce // announced after we joined, in order
	welcomed := false
	for len(fresh) < 6 {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("signaling: %v", err)
		}
		m, err := wire.DecodeFromServer(data)
		if err != nil {
			t.Fatalf("server sent an invalid message: %v", err)
		}
		switch m := m.(type) {
		case *wire.Welcome:
			welcomed = true
		case *wire.PartAnnounce:
			if _, seen := announced[m.ID]; !seen && len(announced) >= 3 {
				fresh = append(fresh, m)
			}
			announced[m.ID] = m
		}
	}
	if !welcomed {
		t.Fatal("no welcome")
	}
	for _, a := range fresh {
		url := fmt.Sprintf("%s/live/show/source/part%d.%d.m4s", s.base(), a.ID.MSN, a.ID.Index)
		code, body, err := get(ctx, url)
		if err != nil || code != 200 {
			t.Fatalf("%s: %d %v", url, code, err)
		}
		if len(body) != a.Size || sha256.Sum256([]byte(body)) != a.SHA256 {
			t.Errorf("part %v: served %d bytes that do not match the announced %d bytes and hash", a.ID, len(body), a.Size)
		}
	}
	_, metrics, _ := get(ctx, s.base()+"/metrics")
	if !strings.Contains(metrics, `swarmtx_viewers{path="live/show"} 1`) {
		t.Errorf("/metrics does not count the joined viewer")
	}
}
