//go:build swarmtx_placeholder

package main

// This file replaces bridge.go in builds with the swarmtx_placeholder tag,
// which only plugin/cmd/swarmtx's process tests make: they exercise launch,
// reattach, locking and crash recovery of the plugin process without media.
// The real bridge is proven by the tests in integration/.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// newBridge creates the Bridge the plugin serves.
func newBridge(cfg config.Config, log *slog.Logger) (contract.Bridge, func(), error) {
	return &placeholderBridge{cfg: cfg, log: log, streams: map[string]contract.StreamStatus{}}, func() {}, nil
}

// placeholderBridge accepts Attach, emits ATTACHED, and holds the stream
// until the hook goes away. SWARMTX_PLACEHOLDER_FAIL=<path> makes Attach of
// that path fail permanently (for tests of the hook's idle behaviour).
type placeholderBridge struct {
	cfg     config.Config
	log     *slog.Logger
	mu      sync.Mutex
	streams map[string]contract.StreamStatus
}

func (b *placeholderBridge) Attach(ctx context.Context, req contract.AttachRequest, emit func(contract.Event)) error {
	if p := os.Getenv("SWARMTX_PLACEHOLDER_FAIL"); p != "" && p == req.Path {
		return contract.Permanent(&unsupportedCodec{path: req.Path})
	}
	host := b.cfg.PublicURL
	if host == "" {
		h, port, _ := net.SplitHostPort(b.cfg.Listen)
		if h == "" {
			h = "127.0.0.1"
		}
		host = "http://" + net.JoinHostPort(h, port)
	}
	url := host + "/" + req.Path + "/"
	b.mu.Lock()
	b.streams[req.Path] = contract.StreamStatus{Path: req.Path, State: contract.StateAttached, Renditions: []string{"source"}, AttachedSince: time.Now(), URL: url}
	b.mu.Unlock()
	b.log.Info("placeholder attach", "path", req.Path, "pull_url", req.PullURL)
	emit(contract.Event{Kind: contract.EventAttached, Message: "placeholder bridge (no media)", URL: url})
	emit(contract.Event{Kind: contract.EventRenditions, Renditions: []string{"source"}})
	<-ctx.Done()
	b.mu.Lock()
	delete(b.streams, req.Path)
	b.mu.Unlock()
	b.log.Info("placeholder detach", "path", req.Path)
	return nil
}

// Push drains what the host pushes and holds the stream as Attach does.
func (b *placeholderBridge) Push(ctx context.Context, req contract.AttachRequest, src contract.PushSource, emit func(contract.Event)) error {
	emit(contract.Event{Kind: contract.EventAttached, Message: "placeholder bridge (no media)"})
	for {
		if _, err := src.Next(); err != nil {
			if ctx.Err() != nil || err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func (b *placeholderBridge) Status(context.Context) (contract.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := contract.Status{ListenAddress: b.cfg.Listen}
	for _, s := range b.streams {
		st.Streams = append(st.Streams, s)
	}
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].Path < st.Streams[j].Path })
	return st, nil
}

type unsupportedCodec struct{ path string }

func (e *unsupportedCodec) Error() string {
	return "stream " + e.path + ": unsupported video codec H265 (swarmtx supports H.264 + AAC)"
}
