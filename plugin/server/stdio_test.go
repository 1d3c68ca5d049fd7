package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/contract"
	"github.com/swarmtx/swarmtx/plugin/state"
)

type idleBridge struct{}

func (idleBridge) Attach(ctx context.Context, _ contract.AttachRequest, _ func(contract.Event)) error {
	<-ctx.Done()
	return nil
}

func (idleBridge) Push(ctx context.Context, _ contract.AttachRequest, _ contract.PushSource, _ func(contract.Event)) error {
	<-ctx.Done()
	return nil
}

func (idleBridge) Status(context.Context) (contract.Status, error) { return contract.Status{}, nil }

// serveInProcess runs Serve as go-plugin's launch would, until the
// handshake is out and stdio is restored; it returns the state directory,
// the process's own stdout and stderr (put back when the test ends), and a
// stop that ends Serve and fails the test if Serve failed.
func serveInProcess(t *testing.T, managed bool) (dir string, origOut, origErr *os.File, stop func()) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv(contract.Handshake.MagicCookieKey, contract.Handshake.MagicCookieValue)
	t.Setenv(plugin.EnvUnixSocketDir, dir)
	// Serve points fd 1 at /dev/null once the handshake is out; the test
	// binary's stdout comes back afterwards.
	savedFd, err := syscall.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	origOut, origErr = os.Stdout, os.Stderr
	t.Cleanup(func() {
		_ = syscall.Dup3(savedFd, 1, 0)
		syscall.Close(savedFd)
		os.Stdout, os.Stderr = origOut, origErr
	})
	lock, err := state.AcquireLock(context.Background(), dir+"/"+state.PluginLock)
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg:     config.Config{StateDir: dir, Listen: "127.0.0.1:0"},
		logOut:  io.Discard,
		lock:    lock,
		Managed: managed,
	}
	restored := make(chan bool, 1)
	p.stdioRestored = func(ok bool) { restored <- ok }
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, idleBridge{}) }()
	select {
	case ok := <-restored:
		if !ok {
			cancel()
			t.Fatal("Serve could not restore stdio")
		}
	case err := <-served:
		cancel()
		t.Fatalf("Serve ended before the handshake: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("Serve did not restore stdio within 10 s of starting")
	}
	return dir, origOut, origErr, func() {
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	}
}

// TestServeRestoresStdio serves in-process as a hook-launched plugin does,
// so go-plugin swaps os.Stdout and os.Stderr for its pipes, and checks that
// Serve points them back at the process's own files. Run with -race: the
// swap happens on go-plugin's goroutine, and Serve must not touch the two
// variables before it can tell the swap is done.
func TestServeRestoresStdio(t *testing.T) {
	_, origOut, origErr, stop := serveInProcess(t, false)
	stop()
	if os.Stdout != origOut || os.Stderr != origErr {
		t.Error("os.Stdout and os.Stderr still point at go-plugin's pipes")
	}
}

// A managed plugin belongs to the Go server that launched it: hooks must
// not find it through a reattach file.
func TestServeManagedWritesNoReattach(t *testing.T) {
	dir, _, _, stop := serveInProcess(t, true)
	defer stop()
	if _, err := state.ReadReattach(dir); !errors.Is(err, state.ErrNoReattach) {
		t.Errorf("a managed plugin left a reattach file (%v)", err)
	}
}
