package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
)

// Addresses of the veth pair RunInNetns creates. NetnsHost carries the default
// route, so it is the address Chromium gathers WebRTC candidates on and the
// one servers should be reached at from browsers. Nothing routed there can
// leave the namespace.
const (
	NetnsHost = "10.77.0.1"
	NetnsPeer = "10.77.0.2"
)

// netnsEnv marks a process already re-executed inside the test namespace.
const netnsEnv = "SWARMTX_TEST_NETNS"

// InNetns reports whether this process runs inside the namespace made by
// RunInNetns.
func InNetns() bool { return os.Getenv(netnsEnv) == "1" }

// netnsSetup follows FACTS.md: lo up, a veth pair on a private test subnet and
// a default route on it (without a default route Chromium gathers no ICE
// candidates at all).
const netnsSetup = `set -e
ip=$SWARMTX_IP
$ip link set lo up
$ip link add v0 type veth peer name v1
$ip addr add ` + NetnsHost + `/24 dev v0
$ip addr add ` + NetnsPeer + `/24 dev v1
$ip link set v0 up
$ip link set v1 up
$ip route add default dev v0
`

// RunInNetns is for TestMain. Outside the namespace it re-executes the test
// binary with the same arguments under `unshare --net` with the veth setup
// above and exits with the child's exit code; inside, it runs the tests. If
// the namespace cannot be created the tests fail loudly rather than run on the
// host network.
//
//	func TestMain(m *testing.M) { harness.RunInNetns(m) }
func RunInNetns(m *testing.M) {
	if InNetns() {
		os.Exit(m.Run())
	}
	os.Exit(reexecInNetns())
}

func reexecInNetns() int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "FAIL: harness.RunInNetns: "+format+"\n", a...)
		fmt.Println("FAIL")
		return 1
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return fail("unshare not found (util-linux); run `make deps`: %v", err)
	}
	ip := LookSbin("ip")
	if ip == "" {
		return fail("ip not found (iproute2); run `make deps`")
	}
	exe, err := os.Executable()
	if err != nil {
		return fail("os.Executable: %v", err)
	}
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		// Unprivileged users can still get a network namespace inside a user
		// namespace where they are root.
		args = append(args, "--map-root-user")
	}
	// Probe first so a machine that forbids namespaces gets a clear message
	// instead of a bare non-zero exit from the re-exec.
	probe := exec.Command(unshare, append(args, "--", "true")...)
	if out, err := probe.CombinedOutput(); err != nil {
		return fail("cannot create a network namespace (%v: %s); these tests need root or unprivileged user namespaces and never fall back to the host network",
			err, out)
	}
	script := netnsSetup + `exec "$0" "$@"`
	args = append(args, "--", "sh", "-c", script, exe)
	args = append(args, os.Args[1:]...)
	cmd := exec.Command(unshare, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), netnsEnv+"=1", "SWARMTX_IP="+ip)
	// If go test kills us (timeout), the tests inside must not live on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fail("start unshare: %v", err)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if code := ee.ExitCode(); code > 0 {
			return code
		}
		return fail("test process in namespace died: %v", err)
	default:
		return fail("unshare: %v (network namespaces not permitted here?)", err)
	}
}

// LookSbin finds a tool that may live in /usr/sbin, which is not always in a
// non-login PATH.
func LookSbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"} {
		if st, err := os.Stat(d + name); err == nil && !st.IsDir() {
			return d + name
		}
	}
	return ""
}
