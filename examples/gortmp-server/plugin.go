package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

// swarmtxPlugin is the `swarmtx plugin` process this server launched and
// owns, in go-plugin's managed way: the same handshake as swarmtx's own
// hooks, gRPC only, and contract.EnvManaged so the plugin knows it
// belongs to this process (no reattach file; it stops when this process
// kills it or exits). A plugin that died is launched again at the next
// publish.
type swarmtxPlugin struct {
	exe, config string
	log         io.Writer

	mu     sync.Mutex
	client *plugin.Client
	bridge *contract.Client
}

func newSwarmtxPlugin(exe, config string, log io.Writer) (*swarmtxPlugin, error) {
	if config != "" {
		abs, err := filepath.Abs(config)
		if err != nil {
			return nil, fmt.Errorf("swarmtx config %s: %w", config, err)
		}
		config = abs
	}
	return &swarmtxPlugin{exe: exe, config: config, log: log}, nil
}

// get returns the running plugin's contract client, launching the plugin
// when none runs.
func (p *swarmtxPlugin) get() (pusher, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil && !p.client.Exited() {
		return p.bridge, nil
	}
	if p.client != nil {
		p.client.Kill()
		p.client = nil
	}
	args := []string{"plugin"}
	if p.config != "" {
		args = append(args, "--config", p.config)
	}
	cmd := exec.Command(p.exe, args...)
	cmd.Env = append(os.Environ(), contract.EnvManaged+"=1")
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  contract.Handshake,
		Plugins:          contract.PluginMap(nil, nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          true,
		StartTimeout:     30 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "go-plugin", Output: p.log, Level: hclog.Warn}),
	})
	rpc, err := c.Client()
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("launching %s %v: %w (see the plugin's log file)", p.exe, args, err)
	}
	raw, err := rpc.Dispense(contract.PluginName)
	if err != nil {
		c.Kill()
		return nil, fmt.Errorf("swarmtx plugin: %w", err)
	}
	b, ok := raw.(*contract.Client)
	if !ok {
		c.Kill()
		return nil, fmt.Errorf("swarmtx plugin: unexpected client type %T", raw)
	}
	b.HostVersion = "gortmp-server"
	p.client, p.bridge = c, b
	return b, nil
}

// kill stops the plugin: its streams end, its viewers are let go.
func (p *swarmtxPlugin) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Kill()
		p.client = nil
	}
}
