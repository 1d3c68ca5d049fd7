package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReattachFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadReattach(dir); !errors.Is(err, ErrNoReattach) {
		t.Fatalf("missing file: %v", err)
	}
	ri := ReattachInfo{Protocol: "grpc", ProtocolVersion: 1, Network: "unix", Address: "/x/plugin1", Pid: 42, Version: "v1"}
	if err := WriteReattach(dir, ri); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReattach(dir)
	if err != nil || got != ri {
		t.Fatalf("got %+v, %v", got, err)
	}
	RemoveReattachIf(dir, 43)
	if _, err := ReadReattach(dir); err != nil {
		t.Fatal("removed for another pid")
	}
	RemoveReattachIf(dir, 42)
	if _, err := ReadReattach(dir); !errors.Is(err, ErrNoReattach) {
		t.Fatal("not removed")
	}
	for _, bad := range []string{"{", `{"pid":0,"network":"unix","address":"a"}`, `{"pid":1,"network":"udp","address":"a"}`} {
		os.WriteFile(filepath.Join(dir, ReattachFile), []byte(bad), 0o600)
		if _, err := ReadReattach(dir); !errors.Is(err, ErrNoReattach) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "l")
	l1, ok, err := TryLock(p)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	l1.WritePid(1234)
	if LockHolderPid(p) != 1234 {
		t.Fatal("pid not recorded")
	}
	if _, ok, _ := TryLock(p); ok {
		t.Fatal("second lock succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := AcquireLock(ctx, p); err == nil {
		t.Fatal("AcquireLock succeeded while held")
	}
	go func() { time.Sleep(50 * time.Millisecond); l1.Unlock() }()
	l2, err := AcquireLock(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
}

func TestPidAlive(t *testing.T) {
	if !PidAlive(os.Getpid()) || PidAlive(0) || PidAlive(-1) {
		t.Fatal("PidAlive wrong")
	}
	if LooksLikePlugin(os.Getpid()) {
		t.Fatal("test binary looks like a plugin")
	}
}
