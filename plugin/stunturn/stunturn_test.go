package stunturn

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/swarmtx/swarmtx/plugin/turncred"
)

type sentCounter struct {
	mu sync.Mutex
	by map[string]int
}

func (c *sentCounter) add(socket string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[socket] += n
}

func (c *sentCounter) get(socket string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[socket]
}

func start(t *testing.T, tu *TURNSettings) (*Server, *sentCounter) {
	t.Helper()
	sent := &sentCounter{by: map[string]int{}}
	s, err := Start(Settings{Address: "127.0.0.1:0", TURN: tu, OnSent: sent.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, sent
}

func client(t *testing.T, s *Server, c turncred.Credential) *turn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: s.Addr().String(), TURNServerAddr: s.Addr().String(),
		Conn: conn, Username: c.Username, Password: c.Password, Realm: "swarmtx", RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); conn.Close() })
	return cl
}

func TestSTUNAnswersAndTURNIsOffWithoutSettings(t *testing.T) {
	s, sent := start(t, nil)
	cl := client(t, s, turncred.Credential{Username: "1:x", Password: "p"})
	addr, err := cl.SendBindingRequest()
	if err != nil {
		t.Fatal(err)
	}
	if !addr.(*net.UDPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("mapped address %v", addr)
	}
	if sent.get(SocketListener) == 0 {
		t.Fatal("the binding answer was not counted")
	}
	if _, err := cl.Allocate(); err == nil {
		t.Fatal("allocated on a STUN-only server")
	}
}

func TestTURNRelaysWithMintedCredentialsOnly(t *testing.T) {
	minter, err := turncred.NewMinter("test secret that is long enough", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, sent := start(t, &TURNSettings{Credentials: minter, RelayIP: net.IPv4(127, 0, 0, 1), QuotaBytes: 30_000})

	// A peer that echoes what reaches it.
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			peer.WriteTo(buf[:n], from)
		}
	}()

	wrong, _ := turncred.NewMinter("some other secret, same length", time.Hour)
	if _, err := client(t, s, wrong.Mint("v1", time.Now())).Allocate(); err == nil {
		t.Fatal("allocated with a credential of another secret")
	}
	if _, err := client(t, s, minter.Mint("v2", time.Now().Add(-2*time.Hour))).Allocate(); err == nil {
		t.Fatal("allocated with an expired credential")
	}

	cred := minter.Mint("v3", time.Now())
	relay, err := client(t, s, cred).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte{7}, 1000)
	echoes := 0
	buf := make([]byte, 1500)
	for i := 0; i < 30; i++ {
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		relay.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		if n, _, err := relay.ReadFrom(buf); err == nil && n == len(msg) {
			echoes++
		}
	}
	// 30 kB of quota, 2 kB a round trip: about 15 echoes, never all 30.
	if echoes < 10 || echoes > 16 {
		t.Fatalf("%d of 30 echoes through a relay with a 30 kB quota, want about 15", echoes)
	}
	if got := sent.get(SocketRelay); got < 10_000 || got > 16_000 {
		t.Fatalf("relay socket sent %d bytes, want about 15 kB", got)
	}
	if got := sent.get(SocketListener); got < 10_000 {
		t.Fatalf("listener sent %d bytes, want the echoes' 15 kB and more", got)
	}
	// Closing the allocation and opening another with the same credential
	// does not give the viewer a fresh quota.
	relay.Close()
	again, err := client(t, s, cred).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.WriteTo(msg, peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	again.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, _, err := again.ReadFrom(buf); err == nil {
		t.Fatal("a new allocation with the same credential relayed past the quota")
	}
}
