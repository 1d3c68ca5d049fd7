package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NATKind is the behaviour of a home's router.
type NATKind int

const (
	// EndpointIndependentNAT keeps a LAN socket's public port whatever it
	// sends to (nftables masquerade), as most home routers do: STUN works.
	EndpointIndependentNAT NATKind = iota
	// SymmetricNAT picks a new public port per destination (masquerade
	// fully-random): STUN alone cannot connect two such homes, TURN can.
	SymmetricNAT
	// NoUDP forwards TCP only, as some corporate and guest networks do.
	NoUDP
)

func (k NATKind) String() string {
	switch k {
	case EndpointIndependentNAT:
		return "endpoint-independent NAT"
	case SymmetricNAT:
		return "symmetric NAT"
	case NoUDP:
		return "NAT without UDP"
	}
	return "NATKind(" + strconv.Itoa(int(k)) + ")"
}

// NATBedOptions configures StartNATBed.
type NATBedOptions struct {
	// Homes are the homes to build, one per entry, in order.
	Homes []NATKind
	// OriginBehindNAT puts the test namespace (the origin host) behind a
	// 1:1 NAT, as a cloud VM whose interface has only a private address.
	OriginBehindNAT bool
}

// Addresses of the bed. The homes' WAN side is 100.64.N.0/24 (N = 1, 2, …),
// their LANs 192.168.N.0/24.
const (
	bedOriginPublic    = "203.0.113.10" // public origin, on the test namespace's own link
	bedOriginNATPublic = "203.0.113.20" // origin behind 1:1 NAT, on its gateway's WAN
	bedOriginPrivate   = "10.99.0.2"    // origin behind 1:1 NAT, on the test namespace's link
	bedOriginGateway   = "10.99.0.1"
	bedInternetOrigin  = "203.0.113.1" // the internet router's side of the origin's link
	bedHomesWAN        = "100.64.0.0/10"
)

// NATBed is a small internet built from inside the test namespace: a router
// namespace ("internet"), the test namespace as the origin host attached to
// it (directly or behind a 1:1 NAT gateway), and homes, each a NAT gateway
// namespace with one LAN namespace behind it where viewers run.
//
// Namespaces are held by processes (`unshare --net sleep`), addressed as
// /proc/<pid>/ns/net, never named with `ip netns add`: nothing is left on
// the machine when the holders die. One bed at a time per test namespace,
// since the origin's addresses and routes live in that namespace.
type NATBed struct {
	t        testing.TB
	ip       string
	nsenter  string
	nated    bool
	public   string
	private  string
	link     string // the test namespace's interface on the bed
	internet *netnsHolder
	homes    []*Home
	holders  []*netnsHolder
}

// Home is one home network: a gateway namespace and a LAN namespace.
type Home struct {
	bed  *NATBed
	n    int
	kind NATKind
	gw   *netnsHolder
	lan  *netnsHolder

	mu   sync.Mutex
	cmds []*exec.Cmd
}

var (
	liveBedMu sync.Mutex
	liveBed   *NATBed
)

var bedLinks int

// StartNATBed builds the bed; everything it made goes away on cleanup.
func StartNATBed(t testing.TB, o NATBedOptions) *NATBed {
	t.Helper()
	if !InNetns() {
		t.Fatal("StartNATBed: the test binary must run in its own namespace (TestMain: harness.RunInNetns)")
	}
	if len(o.Homes) > 250 {
		t.Fatalf("StartNATBed: %d homes, at most 250", len(o.Homes))
	}
	b := &NATBed{t: t, ip: LookSbin("ip"), nated: o.OriginBehindNAT}
	nft := LookSbin("nft")
	switch {
	case b.ip == "":
		t.Fatal("StartNATBed: ip not found (iproute2): run `make deps`")
	case nft == "":
		t.Fatal("StartNATBed: nft not found (nftables): run `make deps`")
	}
	var err error
	if b.nsenter, err = exec.LookPath("nsenter"); err != nil {
		t.Fatal("StartNATBed: nsenter not found (util-linux): run `make deps`")
	}
	liveBedMu.Lock()
	if liveBed != nil {
		liveBedMu.Unlock()
		t.Fatal("StartNATBed: another NAT bed is still up in this namespace")
	}
	liveBed = b
	bedLinks++
	b.link = "bed" + strconv.Itoa(bedLinks)
	liveBedMu.Unlock()
	t.Cleanup(b.stop)

	b.internet = b.hold()
	inet := []string{"link set lo up", "sysctl net.ipv4.ip_forward=1"}

	// The origin: the test namespace itself.
	if !b.nated {
		b.public, b.private = bedOriginPublic, bedOriginPublic
		b.sh("", "link add "+b.link+" type veth peer name origin netns "+b.internet.pid(),
			"addr add "+b.public+"/24 dev "+b.link,
			"link set "+b.link+" up",
			// Only the homes' space: the default route stays where
			// Chromium in this namespace needs it.
			"route add "+bedHomesWAN+" via "+bedInternetOrigin)
	} else {
		b.public, b.private = bedOriginNATPublic, bedOriginPrivate
		gw := b.hold()
		b.sh("", "link add "+b.link+" type veth peer name lan netns "+gw.pid(),
			"addr add "+b.private+"/24 dev "+b.link,
			"link set "+b.link+" up",
			"route add "+bedHomesWAN+" via "+bedOriginGateway)
		b.sh(gw.path, "link set lo up", "sysctl net.ipv4.ip_forward=1",
			"link add wan type veth peer name origin netns "+b.internet.pid(),
			"addr add "+bedOriginGateway+"/24 dev lan",
			"addr add "+b.public+"/24 dev wan",
			"link set lan up", "link set wan up",
			"route add default via "+bedInternetOrigin)
		b.nft(gw.path, nft, fmt.Sprintf(`table ip origin {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "wan" ip daddr %[1]s dnat to %[2]s
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" ip saddr %[2]s snat to %[1]s
	}
}
`, b.public, b.private))
	}
	inet = append(inet, "addr add "+bedInternetOrigin+"/24 dev origin", "link set origin up")

	for i, kind := range o.Homes {
		h := &Home{bed: b, n: i + 1, kind: kind, gw: b.hold(), lan: b.hold()}
		b.homes = append(b.homes, h)
		wanIf := "h" + strconv.Itoa(h.n)
		b.sh(h.gw.path, "link set lo up", "sysctl net.ipv4.ip_forward=1",
			"link add wan type veth peer name "+wanIf+" netns "+b.internet.pid(),
			"link add lan type veth peer name eth0 netns "+h.lan.pid(),
			"addr add "+h.WANAddr()+"/24 dev wan",
			"addr add "+h.gatewayLAN()+"/24 dev lan",
			"link set wan up", "link set lan up",
			"route add default via "+h.internetSide())
		b.sh(h.lan.path, "link set lo up",
			"addr add "+h.LANAddr()+"/24 dev eth0",
			"link set eth0 up",
			// A default route: without one Chromium gathers no candidates.
			"route add default via "+h.gatewayLAN())
		b.nft(h.gw.path, nft, homeRuleset(kind))
		inet = append(inet, "addr add "+h.internetSide()+"/24 dev "+wanIf, "link set "+wanIf+" up")
	}
	b.sh(b.internet.path, inet...)
	return b
}

// homeRuleset is a home router: it masquerades the LAN behind its WAN
// address and drops whatever arrives on the WAN unasked. Without the input
// drop, a peer's first hole-punching packet reaching the gateway before the
// LAN side sent anything is delivered to the gateway itself and leaves a
// conntrack entry that steals the mapping the LAN socket would get.
func homeRuleset(kind NATKind) string {
	masq, udp := "masquerade", ""
	switch kind {
	case SymmetricNAT:
		masq = "masquerade fully-random"
	case NoUDP:
		udp = "\t\tmeta l4proto udp drop\n"
	}
	return `table ip home {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
` + udp + `		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" ` + masq + `
	}
}
`
}

// OriginPublicAddr is the origin's address on the bed's internet: what
// viewers in the homes dial.
func (b *NATBed) OriginPublicAddr() string { return b.public }

// OriginPrivateAddr is the test namespace's own address on the bed, where
// servers listen: the private address behind the 1:1 NAT, or the public
// address itself when the origin is not NATed.
func (b *NATBed) OriginPrivateAddr() string { return b.private }

// OriginNATed reports whether the origin is behind the 1:1 NAT.
func (b *NATBed) OriginNATed() bool { return b.nated }

// Homes are the homes in the order NATBedOptions listed them.
func (b *NATBed) Homes() []*Home { return append([]*Home(nil), b.homes...) }

// Kind is the home router's NAT behaviour.
func (h *Home) Kind() NATKind { return h.kind }

// LANAddr is the address of the home's LAN namespace, where viewers run.
func (h *Home) LANAddr() string { return fmt.Sprintf("192.168.%d.2", h.n) }

// WANAddr is the home router's public address: the source address the
// origin sees for this home's traffic.
func (h *Home) WANAddr() string { return fmt.Sprintf("100.64.%d.2", h.n) }

func (h *Home) gatewayLAN() string   { return fmt.Sprintf("192.168.%d.1", h.n) }
func (h *Home) internetSide() string { return fmt.Sprintf("100.64.%d.1", h.n) }

// Netns is the LAN namespace's path, /proc/<pid>/ns/net, for nsenter --net.
func (h *Home) Netns() string { return h.lan.path }

func (h *Home) String() string { return fmt.Sprintf("home %d (%s, WAN %s)", h.n, h.kind, h.WANAddr()) }

// Command is exec.CommandContext for name run inside the home's LAN
// namespace (through nsenter, which execs it in place: the pid is name's).
// The environment is inherited. A process still running at the bed's
// cleanup is killed.
func (h *Home) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if !strings.Contains(name, "/") {
		if p := LookSbin(name); p != "" {
			name = p
		}
	}
	cmd := exec.CommandContext(ctx, h.bed.nsenter, append([]string{"--net=" + h.Netns(), "--", name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h.mu.Lock()
	h.cmds = append(h.cmds, cmd)
	h.mu.Unlock()
	return cmd
}

// netnsHolder is a process whose only job is to keep a namespace alive.
type netnsHolder struct {
	cmd  *exec.Cmd
	path string
	done chan struct{}
}

func (n *netnsHolder) pid() string { return strconv.Itoa(n.cmd.Process.Pid) }

// hold starts a new network namespace and waits until its holder is in it.
func (b *NATBed) hold() *netnsHolder {
	b.t.Helper()
	cmd := exec.Command("unshare", "--net", "--", "sleep", "infinity")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("StartNATBed: unshare: %v", err)
	}
	n := &netnsHolder{cmd: cmd, path: fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid), done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	b.holders = append(b.holders, n)
	self, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if l, err := os.Readlink(n.path); err == nil && l != self {
			return n
		}
		select {
		case <-n.done:
			b.t.Fatalf("StartNATBed: unshare --net exited: %v", cmd.ProcessState)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatal("StartNATBed: unshare --net did not enter a new namespace in 10s")
		}
	}
}

// sh runs ip commands (and sysctl lines) in the namespace at path, or in
// the test namespace when path is "".
func (b *NATBed) sh(path string, cmds ...string) {
	b.t.Helper()
	var s strings.Builder
	s.WriteString("set -e\n")
	for _, c := range cmds {
		if v, ok := strings.CutPrefix(c, "sysctl "); ok {
			// /proc/sys/net is the view of the writer's namespace.
			k, val, _ := strings.Cut(v, "=")
			fmt.Fprintf(&s, "echo %s > /proc/sys/%s\n", val, strings.ReplaceAll(k, ".", "/"))
			continue
		}
		fmt.Fprintf(&s, "%s %s\n", b.ip, c)
	}
	b.run(path, s.String(), "sh", "-c", s.String())
}

func (b *NATBed) nft(path, nft, ruleset string) {
	b.t.Helper()
	b.run(path, ruleset, nft, "-f", "-")
}

func (b *NATBed) run(path, what string, name string, args ...string) {
	b.t.Helper()
	cmd := exec.Command(name, args...)
	if path != "" {
		cmd = exec.Command(b.nsenter, append([]string{"--net=" + path, "--", name}, args...)...)
	}
	if name != "sh" {
		cmd.Stdin = strings.NewReader(what)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("StartNATBed: %s in %s: %v\n%s\n%s", name, nsName(path), err, what, out)
	}
}

func nsName(path string) string {
	if path == "" {
		return "the test namespace"
	}
	return path
}

func (b *NATBed) stop() {
	for _, h := range b.homes {
		h.mu.Lock()
		for _, c := range h.cmds {
			if c.Process != nil {
				c.Process.Kill()
			}
		}
		h.mu.Unlock()
	}
	// The test namespace's end first, so that it is gone when this returns
	// (a namespace's links otherwise vanish a moment after its holder).
	exec.Command(b.ip, "link", "del", b.link).Run()
	for _, n := range b.holders {
		n.cmd.Process.Kill()
		<-n.done
	}
	liveBedMu.Lock()
	liveBed = nil
	liveBedMu.Unlock()
}

// bedPageHosts gives, for a home's LAN namespace, the address a page
// server should listen on (the origin's on the bed) and the one its URLs
// name (what the home dials); ok is false for other namespaces.
func bedPageHosts(netns string) (listen, url string, ok bool) {
	liveBedMu.Lock()
	defer liveBedMu.Unlock()
	if liveBed == nil {
		return "", "", false
	}
	for _, h := range liveBed.homes {
		if h.Netns() == netns {
			return liveBed.private, liveBed.public, true
		}
	}
	return "", "", false
}

// bedListenHost maps the public address of a NATed origin, which no
// interface here carries, to the private one behind it.
func bedListenHost(host string) string {
	liveBedMu.Lock()
	defer liveBedMu.Unlock()
	if liveBed != nil && host == liveBed.public {
		return liveBed.private
	}
	return host
}

// inNetns runs fn on an OS thread moved into the network namespace at path:
// sockets fn creates belong to that namespace for their whole life, even
// when used from other goroutines. This is how the harness reaches a
// browser's DevTools on a home's own loopback.
func inNetns(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread is only unlocked once back in its own namespace;
		// otherwise it ends with this goroutine.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// dialInNetns dials from inside the network namespace at path.
func dialInNetns(ctx context.Context, path, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(path, func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
