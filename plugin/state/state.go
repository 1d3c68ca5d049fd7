// Package state handles swarmtx's state directory: the reattach file that
// tells hooks where the running plugin listens, and the lock files.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// File names inside the state directory.
const (
	ReattachFile = "plugin.json" // ReattachInfo of the running plugin
	LaunchLock   = "launch.lock" // held by a hook while it launches a plugin
	PluginLock   = "plugin.lock" // held by the plugin for its whole life
)

// ReattachInfo is the content of the reattach file.
type ReattachInfo struct {
	Protocol        string `json:"protocol"`        // go-plugin protocol, "grpc"
	ProtocolVersion int    `json:"protocolVersion"` // contract.ProtocolVersion of the plugin
	Network         string `json:"network"`         // "unix" or "tcp"
	Address         string `json:"address"`
	Pid             int    `json:"pid"`
	Version         string `json:"version"` // swarmtx version of the plugin
}

// ErrNoReattach means there is no (usable) reattach file.
var ErrNoReattach = errors.New("no reattach file")

// EnsureDir creates dir (mode 0700) if needed.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state dir %s: %w", dir, err)
	}
	return nil
}

// ReadReattach reads dir's reattach file. A missing file gives ErrNoReattach;
// a malformed one an error wrapping ErrNoReattach that says why.
func ReadReattach(dir string) (ReattachInfo, error) {
	p := filepath.Join(dir, ReattachFile)
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return ReattachInfo{}, ErrNoReattach
	}
	if err != nil {
		return ReattachInfo{}, fmt.Errorf("reattach file %s: %w", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return ReattachInfo{}, fmt.Errorf("reattach file %s: %w", p, err)
	}
	var ri ReattachInfo
	if err := json.Unmarshal(data, &ri); err != nil {
		return ReattachInfo{}, fmt.Errorf("reattach file %s: %v: %w", p, err, ErrNoReattach)
	}
	if ri.Pid <= 0 || ri.Address == "" || (ri.Network != "unix" && ri.Network != "tcp") {
		return ReattachInfo{}, fmt.Errorf("reattach file %s: incomplete: %w", p, ErrNoReattach)
	}
	return ri, nil
}

// WriteReattach writes dir's reattach file atomically (temp file + rename).
func WriteReattach(dir string, ri ReattachInfo) error {
	data, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ReattachFile+".tmp*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(data, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ReattachFile)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// RemoveReattachIf removes the reattach file if it names pid.
func RemoveReattachIf(dir string, pid int) {
	if ri, err := ReadReattach(dir); err == nil && ri.Pid == pid {
		os.Remove(filepath.Join(dir, ReattachFile))
	}
}

// Lock is a held flock(2) lock.
type Lock struct{ f *os.File }

// TryLock takes an exclusive lock on path without waiting. It reports
// false (and no error) if another process holds it.
func TryLock(path string) (*Lock, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f}, true, nil
}

// AcquireLock waits until it holds an exclusive lock on path or ctx ends.
func AcquireLock(ctx context.Context, path string) (*Lock, error) {
	for {
		l, ok, err := TryLock(path)
		if err != nil {
			return nil, err
		}
		if ok {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// WritePid records pid in the lock file (for messages).
func (l *Lock) WritePid(pid int) {
	l.f.Truncate(0)
	l.f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	return err
}

// LockHolderPid reads the pid written by WritePid, or 0.
func LockHolderPid(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// PidAlive reports whether a process with pid exists.
func PidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie (killed, not yet reaped) is not alive.
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) && data[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// LooksLikePlugin reports whether pid runs "… plugin …" (a swarmtx plugin),
// so that a stale reattach file with a reused pid does not get an unrelated
// process signalled.
func LooksLikePlugin(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	return len(args) >= 2 && args[1] == "plugin" && strings.Contains(filepath.Base(args[0]), "swarmtx")
}
