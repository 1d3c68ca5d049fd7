package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// silence is how long a probe waits before calling a packet not delivered.
const silence = 700 * time.Millisecond

// TestNATBed checks that the bed behaves like the networks it stands for:
// homes reach a public origin through their NAT with the mappings and
// filtering of their kind, and nothing unsolicited gets into a home.
func TestNATBed(t *testing.T) {
	bed := StartNATBed(t, NATBedOptions{Homes: []NATKind{EndpointIndependentNAT, EndpointIndependentNAT, SymmetricNAT, NoUDP}})
	homes := bed.Homes()
	eim, eim2, sym, noUDP := homes[0], homes[1], homes[2], homes[3]
	if bed.OriginPublicAddr() != "203.0.113.10" || bed.OriginPrivateAddr() != "203.0.113.10" || bed.OriginNATed() {
		t.Fatalf("public origin: public %s private %s NATed %v", bed.OriginPublicAddr(), bed.OriginPrivateAddr(), bed.OriginNATed())
	}
	echo1, echo2 := udpEcho(t, bed), udpEcho(t, bed)

	t.Run("Command runs in the LAN", func(t *testing.T) {
		for _, h := range homes {
			out, err := h.Command(context.Background(), "ip", "-4", "-o", "addr").CombinedOutput()
			if err != nil {
				t.Fatalf("%s: ip addr: %v\n%s", h, err, out)
			}
			if !strings.Contains(string(out), " "+h.LANAddr()+"/24 ") || strings.Contains(string(out), bed.OriginPublicAddr()) {
				t.Errorf("%s: addresses in its LAN namespace:\n%s", h, out)
			}
		}
	})

	t.Run("endpoint-independent mapping", func(t *testing.T) {
		c := homeUDP(t, eim)
		a1 := ask(t, c, bed, echo1)
		a2 := ask(t, c, bed, echo2)
		if a1.Addr().String() != eim.WANAddr() {
			t.Errorf("the origin saw %s, want the home's WAN address %s", a1, eim.WANAddr())
		}
		if a1.Port() != a2.Port() {
			t.Errorf("one socket appeared as %s and %s: want one public port for both destinations", a1, a2)
		}
	})

	t.Run("symmetric mapping", func(t *testing.T) {
		c := homeUDP(t, sym)
		a1 := ask(t, c, bed, echo1)
		a2 := ask(t, c, bed, echo2)
		if a1.Addr().String() != sym.WANAddr() || a2.Addr().String() != sym.WANAddr() {
			t.Errorf("the origin saw %s and %s, want the home's WAN address %s", a1, a2, sym.WANAddr())
		}
		if a1.Port() == a2.Port() {
			t.Errorf("one socket appeared as %s for both destinations: want a port per destination", a1)
		}
	})

	t.Run("no UDP, TCP works", func(t *testing.T) {
		c := homeUDP(t, noUDP)
		if _, err := c.WriteTo([]byte("?"), udpAddr(bed.OriginPublicAddr(), echo1.port)); err != nil {
			t.Fatal(err)
		}
		if a, ok := read(c, silence); ok {
			t.Errorf("UDP got through a home without UDP: answer %q", a)
		}
		seen := tcpOrigin(t, bed, noUDP)
		if seen != noUDP.WANAddr() {
			t.Errorf("the origin saw the TCP connection from %s, want %s", seen, noUDP.WANAddr())
		}
	})

	t.Run("only the destination gets back in", func(t *testing.T) {
		c := homeUDP(t, eim)
		mapped := ask(t, c, bed, echo1)
		// From another origin port to the same mapping: filtered.
		if _, err := echo2.conn.WriteToUDPAddrPort([]byte("from echo2"), mapped); err != nil {
			t.Fatal(err)
		}
		if a, ok := read(c, silence); ok {
			t.Errorf("a packet from a port the home never sent to got in: %q", a)
		}
		// From the port it did send to: delivered.
		if _, err := echo1.conn.WriteToUDPAddrPort([]byte("from echo1"), mapped); err != nil {
			t.Fatal(err)
		}
		if a, ok := read(c, 3*time.Second); !ok || a != "from echo1" {
			t.Errorf("the destination's second packet did not get back in (got %q, %v)", a, ok)
		}
	})

	t.Run("unsolicited WAN input is dropped", func(t *testing.T) {
		// A home that sent nothing: a packet to its WAN address on the port
		// its socket has on the LAN does not reach the LAN.
		c := homeUDP(t, eim2)
		port := c.LocalAddr().(*net.UDPAddr).Port
		to := udpAddr(eim2.WANAddr(), port)
		if _, err := echo1.conn.WriteToUDPAddrPort([]byte("unsolicited"), to.AddrPort()); err != nil {
			t.Fatal(err)
		}
		if a, ok := read(c, silence); ok {
			t.Errorf("an unsolicited packet reached the LAN: %q", a)
		}
		// The gateway drops it without a word; a bare router (the
		// internet's) answers a closed port with ICMP, which shows as a
		// refused read: this is what a missing drop rule would look like.
		if err := udpRefused(bed, eim2.WANAddr()); !errors.Is(err, errTimeout) {
			t.Errorf("UDP to a closed port of the home's WAN address: %v, want silence", err)
		}
		if err := udpRefused(bed, "100.64.2.1"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("UDP to a closed port of the internet router: %v, want refused", err)
		}
	})

	t.Run("hole punching between endpoint-independent homes", func(t *testing.T) {
		a, b := homeUDP(t, eim), homeUDP(t, eim2)
		ma, mb := ask(t, a, bed, echo1), ask(t, b, bed, echo1)
		got := map[string]bool{}
		for i := 0; i < 10 && len(got) < 2; i++ {
			a.WriteTo([]byte("a"), net.UDPAddrFromAddrPort(mb))
			b.WriteTo([]byte("b"), net.UDPAddrFromAddrPort(ma))
			for _, c := range []net.PacketConn{a, b} {
				if s, ok := read(c, 100*time.Millisecond); ok {
					got[s] = true
				}
			}
		}
		if !got["a"] || !got["b"] {
			t.Errorf("after punching, delivered: %v; want both ways", got)
		}
	})
}

// TestNATBedOriginBehindNAT checks the cloud-VM origin: only a private
// address on its interface, reached through the 1:1 NAT's public address,
// seeing viewers by their homes' WAN addresses.
func TestNATBedOriginBehindNAT(t *testing.T) {
	bed := StartNATBed(t, NATBedOptions{Homes: []NATKind{EndpointIndependentNAT}, OriginBehindNAT: true})
	h := bed.Homes()[0]
	if bed.OriginPublicAddr() != "203.0.113.20" || bed.OriginPrivateAddr() != "10.99.0.2" || !bed.OriginNATed() {
		t.Fatalf("NATed origin: public %s private %s NATed %v", bed.OriginPublicAddr(), bed.OriginPrivateAddr(), bed.OriginNATed())
	}
	addrs, _ := net.InterfaceAddrs()
	var mine []string
	for _, a := range addrs {
		mine = append(mine, a.String())
	}
	if s := strings.Join(mine, " "); strings.Contains(s, "203.0.113.") || !strings.Contains(s, "10.99.0.2/24") {
		t.Errorf("the origin's addresses are %s: want 10.99.0.2/24 and no public one", s)
	}
	echo := udpEcho(t, bed)
	c := homeUDP(t, h)
	if a := ask(t, c, bed, echo); a.Addr().String() != h.WANAddr() {
		t.Errorf("over UDP the origin saw %s, want %s", a, h.WANAddr())
	}
	if seen := tcpOrigin(t, bed, h); seen != h.WANAddr() {
		t.Errorf("over TCP the origin saw %s, want %s", seen, h.WANAddr())
	}
}

// TestNATBedChromium runs Chromium in a home behind the NATed origin: the
// DevTools tabs and StartBrowser's page server both work across the bed,
// and WebRTC gathers the home's LAN address.
func TestNATBedChromium(t *testing.T) {
	bed := StartNATBed(t, NATBedOptions{Homes: []NATKind{EndpointIndependentNAT}, OriginBehindNAT: true})
	h := bed.Homes()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var from []string
	ln, err := net.Listen("tcp", net.JoinHostPort(bed.OriginPrivateAddr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		from = append(from, r.RemoteAddr)
		mu.Unlock()
		fmt.Fprint(w, "<!doctype html><title>home</title>")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	page := "http://" + net.JoinHostPort(bed.OriginPublicAddr(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/"

	tab := StartTabsIn(t, h.Netns()).Open(ctx, t, page, Login{})
	for len(tab.DocumentStatuses()) == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the page never loaded in the home; tab log %q", tab.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := tab.DocumentStatuses(); st[0] != 200 {
		t.Fatalf("page statuses %v", st)
	}
	mu.Lock()
	if len(from) == 0 || !strings.HasPrefix(from[0], h.WANAddr()+":") {
		t.Errorf("the origin saw the page request from %q, want %s", from, h.WANAddr())
	}
	mu.Unlock()
	res, err := tab.Call(ctx, "Runtime.evaluate", map[string]any{"awaitPromise": true, "returnByValue": true, "expression": `(async () => {
		const pc = new RTCPeerConnection();
		pc.createDataChannel('x');
		await pc.setLocalDescription(await pc.createOffer());
		await new Promise(r => {
			if (pc.iceGatheringState === 'complete') r();
			pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
			setTimeout(r, 10000);
		});
		return pc.localDescription.sdp;
	})()`})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res), " "+h.LANAddr()+" ") {
		t.Errorf("Chromium in the home gathered no candidate on %s: %s", h.LANAddr(), res)
	}

	b := StartBrowser(t, BrowserOptions{Srcs: []string{page + "none.m3u8"}, Netns: h.Netns()})
	if _, err := b.Players[0].WaitFor(ctx, func(PlayerReport) bool { return true }); err != nil {
		t.Errorf("StartBrowser in the home: %v", err)
	}
	if !strings.HasPrefix(b.Players[0].URL, "http://"+bed.OriginPublicAddr()+":") {
		t.Errorf("StartBrowser's page URL %s, want it on %s", b.Players[0].URL, bed.OriginPublicAddr())
	}
}

type echoServer struct {
	conn *net.UDPConn
	port int
}

// udpEcho answers every datagram with the address it came from, on the
// origin's bed address.
func udpEcho(t *testing.T, bed *NATBed) *echoServer {
	t.Helper()
	c, err := net.ListenUDP("udp4", udpAddr(bed.OriginPrivateAddr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort([]byte(from.String()), from)
		}
	}()
	return &echoServer{conn: c, port: c.LocalAddr().(*net.UDPAddr).Port}
}

// homeUDP opens a UDP socket in the home's LAN namespace.
func homeUDP(t *testing.T, h *Home) net.PacketConn {
	t.Helper()
	var c net.PacketConn
	if err := inNetns(h.Netns(), func() (err error) {
		c, err = net.ListenPacket("udp4", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ask sends to the echo server on the origin's public address and returns
// the address the origin saw.
func ask(t *testing.T, c net.PacketConn, bed *NATBed, echo *echoServer) netip.AddrPort {
	t.Helper()
	for range 3 {
		if _, err := c.WriteTo([]byte("?"), udpAddr(bed.OriginPublicAddr(), echo.port)); err != nil {
			t.Fatal(err)
		}
		if s, ok := read(c, time.Second); ok {
			a, err := netip.ParseAddrPort(s)
			if err != nil {
				t.Fatalf("echo answered %q", s)
			}
			return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		}
	}
	t.Fatalf("no answer from the origin's UDP port %d", echo.port)
	return netip.AddrPort{}
}

// read returns the next datagram's text, if one comes within d.
func read(c net.PacketConn, d time.Duration) (string, bool) {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

var errTimeout = errors.New("no answer")

// udpRefused sends from the origin to a closed UDP port of host and tells
// whether an ICMP refusal came back (syscall.ECONNREFUSED) or nothing.
func udpRefused(bed *NATBed, host string) error {
	c, err := net.DialUDP("udp4", udpAddr(bed.OriginPrivateAddr(), 0), udpAddr(host, 9))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("closed?")); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(silence))
	_, err = c.Read(make([]byte, 64))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errTimeout
	}
	return err
}

// tcpOrigin connects from the home to a TCP listener on the origin and
// returns the address the origin saw.
func tcpOrigin(t *testing.T, bed *NATBed, h *Home) string {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(bed.OriginPrivateAddr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialInNetns(ctx, h.Netns(), "tcp4", net.JoinHostPort(bed.OriginPublicAddr(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	if err != nil {
		t.Fatalf("%s: TCP to the origin: %v", h, err)
	}
	defer c.Close()
	select {
	case s := <-seen:
		return s
	case <-ctx.Done():
		t.Fatalf("%s: the origin accepted nothing", h)
		return ""
	}
}

func udpAddr(host string, port int) *net.UDPAddr {
	return &net.UDPAddr{IP: net.ParseIP(host).To4(), Port: port}
}
