package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/swarmtx/swarmtx/bridge/metrics"
	"github.com/swarmtx/swarmtx/integration/harness"
	"github.com/swarmtx/swarmtx/plugin/config"
	"github.com/swarmtx/swarmtx/plugin/state"
)

// The deployment examples this test holds to what swarmtx does.
const (
	composeDir    = "examples/compose"
	composeFile   = composeDir + "/compose.yaml"
	prometheusYML = composeDir + "/prometheus.yml"
	dashboardJSON = "examples/grafana/swarmtx-dashboard.json"
	systemdUnit   = "examples/systemd/swarmtx.service"
)

// eventOnlyMetrics are metrics whose series exist only once something happens that
// a short, healthy run does not provoke. The dashboard may chart them; their
// names and labels are checked against the metrics swarmtx defines instead of
// a scrape.
var eventOnlyMetrics = map[string]string{
	"swarmtx_peers_banned_total":          "a viewer banned",
	"swarmtx_ladder_dropped_frames_total": "the ladder's encoder falling behind",
}

// TestDeployExamples brings up the compose stack's configuration the test's
// own way (the real binaries, not images): MediaMTX with the compose
// mediamtx.yml, `swarmtx plugin` as the swarmtx service runs it, an
// OBS-like publisher, whose stream MediaMTX's hook must attach to that
// plugin, and two Go viewers. It
// then scrapes /metrics from Prometheus's address and checks that
// prometheus.yml's job reaches it, that every metric and label the Grafana
// dashboard's queries name exists, and, without running anything, that the
// compose file and the systemd unit hold together.
func TestDeployExamples(t *testing.T) {
	if !harness.InNetns() {
		t.Fatal("this test binds the compose set-up's fixed ports and must run in the test namespace")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Systemd", func(t *testing.T) { checkSystemdUnit(t, root) })
	cf := loadCompose(t, root)
	composeOK := t.Run("Compose", func(t *testing.T) { checkCompose(t, root, cf) })
	dash := loadDashboard(t, root)
	if len(dash.exprs) < 8 {
		t.Fatalf("%s: %d PromQL queries, want a dashboard (viewers, copies, P2P, bytes, stalls, ICE, bans)", dashboardJSON, len(dash.exprs))
	}
	defined := definedMetrics()
	for name := range eventOnlyMetrics {
		if defined[name] == nil {
			t.Errorf("%s is listed as appearing on an event, but swarmtx defines no such metric", name)
		}
	}
	if !composeOK {
		t.FailNow() // the stack below is built from the compose files
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	st := startComposeStack(ctx, t, root, cf)

	job := loadPrometheusJob(t, root)
	t.Run("ScrapeTarget", func(t *testing.T) { checkScrapeTarget(t, cf, st, job) })

	// Two viewers watch, so the per-stream series exist; the scrape is
	// retried until the dashboard's series are all there (viewers report
	// every 2 s, the swarm's copies every 8 s).
	s := &stack{t: t, httpPort: st.port}
	joinSwarm(ctx, t, s, nil)
	joinSwarm(ctx, t, s, nil)
	var scrape *exposition
	var problems []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, code, err := st.scrapeFrom(ctx, st.promAddr, job.metricsPath)
		if err != nil || code != http.StatusOK {
			t.Fatalf("scrape from Prometheus's address %s: HTTP %d, %v\n%s", st.promAddr, code, err, tail(body, 2000))
		}
		scrape = parseExposition(body)
		problems = dashboardProblems(dash, scrape, job.name)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		sleepCtx(ctx, t, time.Second)
	}
	t.Run("DashboardMetricsExist", func(t *testing.T) {
		for _, p := range problems {
			t.Error(p)
		}
		t.Logf("scraped series names: %s", strings.Join(scrape.names(), " "))
		t.Logf("%d dashboard queries checked against %d scraped series names", len(dash.exprs), len(scrape.labels))
	})
	t.Run("MetricsNotOpenToAll", func(t *testing.T) {
		// mediamtx.yml opens /metrics to Prometheus's address, not to every
		// address on the network.
		_, code, err := st.scrapeFrom(ctx, harness.NetnsHost, job.metricsPath)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("scrape from %s (not Prometheus's address): HTTP %d, %v; want 401", harness.NetnsHost, code, err)
		}
	})
}

// TestPromQLMetricNames: the extractor the dashboard check relies on.
func TestPromQLMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr   string
		want   string // selectors, "name{labels}" joined by spaces
		groups string
	}{
		{`swarmtx_viewers`, `swarmtx_viewers{}`, ``},
		{`sum by (path) (swarmtx_viewers{path=~"$path"})`, `swarmtx_viewers{path}`, `path`},
		{`sum(rate(swarmtx_server_bytes_total{path=~"$path", via="http"}[$__rate_interval])) without (via)`,
			`swarmtx_server_bytes_total{path,via}`, `via`},
		{`sum by (path, rendition, via) (rate(a_total{path=~"x"}[1m])) / on (path, rendition) group_left sum by (path, rendition) (rate(b_total[1m]))`,
			`a_total{path} b_total{}`, `path rendition via`},
		{`histogram_quantile(0.95, sum by (le) (rate(d_seconds_bucket{job="swarmtx",path=~"a|b"}[5m:1m] offset 1h)))`,
			`d_seconds_bucket{job,path}`, `le`},
		{`max_over_time(x{a="}{by"}[1m]) > bool 0 and ignoring (a) y unless z or count(w) by (k)`,
			`x{a} y{} z{} w{}`, `a k`},
		{`label_replace(up, "dst", "$1", "src", "(.*)") * 1e3 + inf`, `up{}`, ``},
	} {
		sels, groups := promqlSelectors(c.expr)
		var got []string
		for _, s := range sels {
			got = append(got, s.name+"{"+strings.Join(s.labels, ",")+"}")
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s\n selectors %q, want %q", c.expr, g, c.want)
		}
		if g := strings.Join(groups, " "); g != c.groups {
			t.Errorf("%s\n grouping labels %q, want %q", c.expr, g, c.groups)
		}
	}
}

// --- compose.yaml -----------------------------------------------------------

type composeFileT struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet  string `yaml:"subnet"`
				IPRange string `yaml:"ip_range"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Entrypoint  []string  `yaml:"entrypoint"`
	Command     []string  `yaml:"command"`
	Volumes     []string  `yaml:"volumes"`
	Ports       []string  `yaml:"ports"`
	NetworkMode string    `yaml:"network_mode"`
	Pid         string    `yaml:"pid"`
	Networks    yaml.Node `yaml:"networks"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composeMount is one "SOURCE:TARGET[:MODE]" volume entry.
type composeMount struct {
	source, target string
	readOnly       bool
}

func (s composeService) mounts() []composeMount {
	var ms []composeMount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			ms = append(ms, composeMount{parts[0], parts[1], len(parts) > 2 && slices.Contains(strings.Split(parts[2], ","), "ro")})
		}
	}
	return ms
}

// ipv4On is the fixed address the service asks for on network n, if any.
func (s composeService) ipv4On(n string) string {
	if s.Networks.Kind != yaml.MappingNode {
		return ""
	}
	var m map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	}
	if s.Networks.Decode(&m) != nil {
		return ""
	}
	return m[n].IPv4
}

func loadCompose(t *testing.T, root string) composeFileT {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, composeFile))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFileT
	// yaml.v3 resolves the file's anchors and merge keys as compose does.
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("%s does not parse: %v", composeFile, err)
	}
	return cf
}

// checkCompose: the four services, the files they mount and build from
// exist, named volumes are declared, and MediaMTX shares what its hook
// needs with the swarmtx service: its process and network namespaces and
// the state directory swarmtx.yml names.
func checkCompose(t *testing.T, root string, cf composeFileT) {
	for _, name := range []string{"mediamtx", "swarmtx", "prometheus", "grafana"} {
		if _, ok := cf.Services[name]; !ok {
			t.Errorf("%s: no service %q", composeFile, name)
		}
	}
	dir := filepath.Join(root, composeDir)
	for name, s := range cf.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		if s.Build != nil {
			ctxDir := filepath.Join(dir, s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctxDir, "go.mod")); err != nil {
				t.Errorf("service %s: build context %s is not the repository's root: %v", name, s.Build.Context, err)
			}
			if _, err := os.Stat(filepath.Join(ctxDir, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: dockerfile: %v", name, err)
			}
		}
		for _, m := range s.mounts() {
			if strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/") {
				if _, err := os.Stat(filepath.Join(dir, m.source)); err != nil {
					t.Errorf("service %s mounts %s, which is not in the repository: %v", name, m.source, err)
				}
			} else if _, ok := cf.Volumes[m.source]; !ok {
				t.Errorf("service %s mounts volume %s, not declared under volumes:", name, m.source)
			}
		}
	}
	stx, mtx := cf.Services["swarmtx"], cf.Services["mediamtx"]
	if len(stx.Entrypoint) < 2 || stx.Entrypoint[1] != "plugin" {
		t.Errorf("service swarmtx runs %q, want `swarmtx plugin --config ...`", stx.Entrypoint)
	}
	// The plugin pulls over loopback and the hook checks the plugin's pid:
	// one of the two joins the other's network and process namespaces.
	joins := func(a composeService, b string) bool {
		return a.NetworkMode == "service:"+b && a.Pid == "service:"+b
	}
	if !joins(stx, "mediamtx") && !joins(mtx, "swarmtx") {
		t.Errorf("services swarmtx (network_mode %q, pid %q) and mediamtx (%q, %q) do not share network and process namespaces",
			stx.NetworkMode, stx.Pid, mtx.NetworkMode, mtx.Pid)
	}
	// The hook and the plugin read the same swarmtx.yml, whose stateDir
	// must be one volume mounted in both.
	cfgPath := configFlag(stx.Entrypoint)
	var cfgSrc string
	for _, m := range stx.mounts() {
		if m.target == cfgPath {
			cfgSrc = m.source
		}
	}
	if cfgSrc == "" {
		t.Fatalf("service swarmtx: its --config %s is not mounted", cfgPath)
	}
	cfg, err := config.Load(filepath.Join(dir, cfgSrc))
	if err != nil {
		t.Fatalf("compose swarmtx.yml: %v", err)
	}
	if cfg.LogFile != "stderr" {
		t.Errorf("compose swarmtx.yml: logFile %q, want stderr (docker compose logs)", cfg.LogFile)
	}
	volAt := func(s composeService, target string) composeMount {
		for _, m := range s.mounts() {
			if m.target == target {
				return m
			}
		}
		return composeMount{}
	}
	if v := volAt(stx, cfg.StateDir).source; v == "" || v != volAt(mtx, cfg.StateDir).source {
		t.Errorf("stateDir %s: mounted from %q in swarmtx and %q in mediamtx; the hook finds the plugin only through one shared volume there",
			cfg.StateDir, v, volAt(mtx, cfg.StateDir).source)
	}
	// Read-only for the hooks: one that found no plugin would start its own
	// in the mediamtx container, beside the swarmtx service's.
	if !volAt(mtx, cfg.StateDir).readOnly {
		t.Errorf("service mediamtx: stateDir %s is writable; mount it read-only so hooks can only attach", cfg.StateDir)
	}
	if volAt(mtx, cfgPath).source != cfgSrc {
		t.Errorf("service mediamtx: %s is not the swarmtx service's %s", cfgPath, cfgSrc)
	}
	checkGrafanaProvisioning(t, root, cf)
}

// checkGrafanaProvisioning: Grafana's data source is the prometheus
// service, and its dashboard provider reads the folder the dashboard JSON
// is mounted in.
func checkGrafanaProvisioning(t *testing.T, root string, cf composeFileT) {
	dir := filepath.Join(root, composeDir)
	g := cf.Services["grafana"]
	var dashTarget string
	provisioned := map[string]string{} // provisioning folder → its source
	for _, m := range g.mounts() {
		if src, err := filepath.Abs(filepath.Join(dir, m.source)); err == nil && src == filepath.Join(root, dashboardJSON) {
			dashTarget = m.target
		}
		if strings.HasPrefix(m.target, "/etc/grafana/provisioning/") {
			provisioned[strings.TrimPrefix(m.target, "/etc/grafana/provisioning/")] = filepath.Join(dir, m.source)
		}
	}
	if dashTarget == "" {
		t.Errorf("service grafana does not mount %s", dashboardJSON)
	}
	readAll := func(kind string, v any) {
		files, _ := filepath.Glob(filepath.Join(provisioned[kind], "*.y*ml"))
		if len(files) == 0 {
			t.Errorf("service grafana: no %s provisioning mounted", kind)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil {
				err = yaml.Unmarshal(b, v)
			}
			if err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
	var ds struct {
		Datasources []struct{ Type, URL string } `yaml:"datasources"`
	}
	readAll("datasources", &ds)
	for _, d := range ds.Datasources {
		u, err := url.Parse(d.URL)
		if d.Type != "prometheus" || err != nil || cf.Services[u.Hostname()].Image == "" || !strings.Contains(u.Hostname(), "prometheus") {
			t.Errorf("Grafana data source %s %q: want the prometheus service", d.Type, d.URL)
		}
	}
	var dp struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	readAll("dashboards", &dp)
	if len(dp.Providers) == 0 || dp.Providers[0].Options.Path != filepath.Dir(dashTarget) {
		t.Errorf("Grafana's dashboard provider does not read %s, where the dashboard is mounted: %+v", filepath.Dir(dashTarget), dp.Providers)
	}
}

// configFlag is the value of --config in args.
func configFlag(args []string) string {
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
	}
	return ""
}

// --- systemd ----------------------------------------------------------------

// checkSystemdUnit: the unit runs `swarmtx plugin --config` with a config
// that is in examples, whose stateDir is the unit's runtime directory and
// which logs to journald, as a user of its own, hardened.
func checkSystemdUnit(t *testing.T, root string) {
	b, err := os.ReadFile(filepath.Join(root, systemdUnit))
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{} // "Section.Key" → values
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("%s: not a key=value line: %q", systemdUnit, line)
				continue
			}
			unit[section+"."+strings.TrimSpace(k)] = append(unit[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	last := func(k string) string {
		v := unit["Service."+k]
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	for k, want := range map[string]string{
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"PrivateDevices":        "yes",
		"CapabilityBoundingSet": "",
		"RestrictNamespaces":    "yes",
		"RestrictSUIDSGID":      "yes",
		"ProtectKernelTunables": "yes",
		"ProtectKernelModules":  "yes",
		"ProtectControlGroups":  "yes",
		"LockPersonality":       "yes",
	} {
		if _, ok := unit["Service."+k]; !ok || last(k) != want {
			t.Errorf("%s: %s=%q, want %q", systemdUnit, k, last(k), want)
		}
	}
	if f := last("RestrictAddressFamilies"); !strings.Contains(f, "AF_INET") || strings.Contains(f, "AF_PACKET") {
		t.Errorf("%s: RestrictAddressFamilies=%q", systemdUnit, f)
	}
	if last("DynamicUser") != "yes" && (last("User") == "" || last("User") == "root") {
		t.Errorf("%s: runs as %q; want a user of its own (User= or DynamicUser=yes)", systemdUnit, last("User"))
	}
	if last("SystemCallFilter") == "" {
		t.Errorf("%s: no SystemCallFilter", systemdUnit)
	}

	argv := strings.Fields(last("ExecStart"))
	if len(argv) < 2 || filepath.Base(argv[0]) != "swarmtx" || argv[1] != "plugin" {
		t.Fatalf("%s: ExecStart=%q, want swarmtx plugin --config ...", systemdUnit, last("ExecStart"))
	}
	cfgPath := configFlag(argv)
	if cfgPath == "" {
		t.Fatalf("%s: ExecStart has no --config", systemdUnit)
	}
	// The unit's config is shipped beside it under its installed name.
	example := filepath.Join(root, filepath.Dir(systemdUnit), filepath.Base(cfgPath))
	cfg, err := config.Load(example)
	if err != nil {
		t.Fatalf("%s: ExecStart's --config %s: the example %s: %v", systemdUnit, cfgPath, example, err)
	}
	rd := last("RuntimeDirectory")
	if rd == "" || cfg.StateDir != "/run/"+rd {
		t.Errorf("%s: stateDir %s is not the unit's RuntimeDirectory (/run/%s): the hook would not find the plugin, or the plugin could not write it",
			example, cfg.StateDir, rd)
	}
	if cfg.LogFile != "stderr" {
		t.Errorf("%s: logFile %q, want stderr (journald)", example, cfg.LogFile)
	}

	// systemd's own reading of the unit, where systemd-analyze is installed:
	// no unknown or malformed directive, and its exposure score.
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("no systemd-analyze here; the unit is checked by the rules above only")
		return
	}
	dir := t.TempDir()
	unitCopy := filepath.Join(dir, filepath.Base(systemdUnit))
	// verify wants ExecStart's binary to exist.
	text := strings.Replace(string(b), "ExecStart="+argv[0], "ExecStart="+swarmtxBinary(t), 1)
	if err := os.WriteFile(unitCopy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", unitCopy).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", systemdUnit, err, out)
	}
	out, err := exec.Command(sa, "security", "--offline=true", unitCopy).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, tail(string(out), 2000))
		return
	}
	_, score, _ := strings.Cut(string(out), "Overall exposure level for ")
	_, score, _ = strings.Cut(score, ": ")
	level, err := strconv.ParseFloat(strings.Fields(score + " x")[0], 64)
	// systemd rates 0 (locked down) to 10; under 4 it calls "OK", and
	// this unit keeps only what the plugin needs (sockets, the network).
	if err != nil || level > 2.5 {
		t.Errorf("systemd-analyze security rates %s's exposure %q, want at most 2.5:\n%s", systemdUnit, score, tail(string(out), 3000))
	} else {
		t.Logf("systemd-analyze security: exposure %.1f", level)
	}
}

// --- the stack --------------------------------------------------------------

// composeStack is the compose set-up run from binaries.
type composeStack struct {
	port     int    // swarmtx's listen port
	promAddr string // Prometheus's address, from compose.yaml
	pluginPC *exec.Cmd
}

// startComposeStack runs MediaMTX with the compose mediamtx.yml, then the
// swarmtx service's command until its healthcheck passes, and publishes
// live/show. Container paths in the commands and configs are
// mapped to the test's copies through the services' mounts.
func startComposeStack(ctx context.Context, t *testing.T, root string, cf composeFileT) *composeStack {
	t.Helper()
	log := slog.New(slog.NewTextHandler(deployLogWriter{t}, nil))
	bin := swarmtxBinary(t)
	mtxBin, err := harness.MediaMTXPath()
	if err != nil {
		t.Fatal(err)
	}
	// Short: the plugin's unix socket lives in the state directory.
	tmp, err := os.MkdirTemp("", "stx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })

	// Container path → test path. The image puts swarmtx in /usr/local/bin.
	paths := map[string]string{"/usr/local/bin/swarmtx": bin}
	stx, mtx := cf.Services["swarmtx"], cf.Services["mediamtx"]
	for _, m := range append(stx.mounts(), mtx.mounts()...) {
		if _, ok := paths[m.target]; ok {
			continue
		}
		local := filepath.Join(tmp, strings.ReplaceAll(strings.Trim(m.target, "/"), "/", "_"))
		if strings.HasPrefix(m.source, ".") {
			paths[m.target] = local // written below, rewritten
		} else if err := os.MkdirAll(local, 0o700); err != nil { // a volume
			t.Fatal(err)
		} else {
			paths[m.target] = local
		}
	}
	// Longest first, so no path is replaced inside a longer one.
	targets := make([]string, 0, len(paths))
	for k := range paths {
		targets = append(targets, k)
	}
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
	rewrite := func(s string) string {
		for _, k := range targets {
			s = strings.ReplaceAll(s, k, paths[k])
		}
		return s
	}
	for _, m := range append(stx.mounts(), mtx.mounts()...) {
		if !strings.HasPrefix(m.source, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, composeDir, m.source))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(paths[m.target], []byte(rewrite(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(paths[configFlag(stx.Entrypoint)])
	if err != nil {
		t.Fatal(err)
	}
	_, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		t.Fatalf("swarmtx.yml listen %q: %v", cfg.Listen, err)
	}
	st := &composeStack{promAddr: cf.Services["prometheus"].ipv4On("swarm")}
	if st.port, err = strconv.Atoi(portStr); err != nil {
		t.Fatal(err)
	}
	if net.ParseIP(st.promAddr) == nil {
		t.Fatalf("compose.yaml: service prometheus has no fixed ipv4_address on network swarm (%q)", st.promAddr)
	}

	// The mediamtx service first, as compose starts it: the image's
	// entrypoint is MediaMTX. No hook runs before the publisher comes.
	margs := slices.Clone(mtx.Command)
	for i := range margs {
		margs[i] = rewrite(margs[i])
	}
	// Its read-only mounts stay read-only: MediaMTX runs in a mount
	// namespace of its own where they are bound read-only onto themselves.
	script := "set -e\n"
	for _, m := range mtx.mounts() {
		if m.readOnly {
			script += fmt.Sprintf("mount --bind %[1]s %[1]s\nmount -o remount,bind,ro %[1]s\n", paths[m.target])
		}
	}
	script += `exec "$@"`
	startDeployProcess(t, tmp, "mediamtx", harness.LookSbin("unshare"), append([]string{"-m", "sh", "-c", script, "sh", mtxBin}, margs...)...)
	// scrapeFrom adds Prometheus's address to loopback; take it away again.
	t.Cleanup(func() {
		_ = exec.Command(harness.LookSbin("ip"), "addr", "del", st.promAddr+"/32", "dev", "lo").Run()
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("plugin log tail:\n%s", deployLogTail(tmp, "plugin"))
			t.Logf("mediamtx log tail:\n%s", deployLogTail(tmp, "mediamtx"))
		}
	})

	// The swarmtx service.
	args := append(slices.Clone(stx.Entrypoint), stx.Command...)
	for i := range args {
		args[i] = rewrite(args[i])
	}
	var pluginDone <-chan struct{}
	st.pluginPC, pluginDone = startDeployProcess(t, tmp, "plugin", args[0], args[1:]...)
	log.Info("swarmtx service", "cmd", args)
	// Its healthcheck (docker compose ps): the plugin answers.
	hc := slices.Clone(stx.Healthcheck.Test)
	if len(hc) < 2 || hc[0] != "CMD" {
		t.Fatalf("service swarmtx: healthcheck %q, want [CMD, swarmtx, status, ...]", hc)
	}
	for i := range hc {
		hc[i] = rewrite(hc[i])
	}
	health := func() error {
		out, err := exec.CommandContext(ctx, hc[1], hc[2:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	for {
		err := health()
		if err == nil {
			break
		}
		exited := false
		select {
		case <-pluginDone:
			exited = true
		default:
		}
		if ctx.Err() != nil || exited {
			t.Fatalf("the swarmtx service never became healthy (swarmtx status): %v\nplugin log:\n%s", err, deployLogTail(tmp, "plugin"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	var mc struct {
		RTMPAddress string `yaml:"rtmpAddress"`
	}
	b, err := os.ReadFile(margs[0])
	if err == nil {
		err = yaml.Unmarshal(b, &mc)
	}
	_, rtmpPort, serr := net.SplitHostPort(mc.RTMPAddress)
	if err != nil || serr != nil {
		t.Fatalf("compose mediamtx.yml rtmpAddress %q: %v %v", mc.RTMPAddress, err, serr)
	}
	port, _ := strconv.Atoi(rtmpPort)
	for {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", rtmpPort)); err == nil {
			c.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("MediaMTX did not open its RTMP port %s", rtmpPort)
		}
		time.Sleep(100 * time.Millisecond)
	}
	harness.Publish(ctx, t, harness.PublishOptions{Port: port, Path: "live/show", Size: "426x240", VideoBitrate: 500})
	waitMultivariant(ctx, t, fmt.Sprintf("http://127.0.0.1:%d/live/show/index.m3u8", st.port), 1)

	// The hook attached to the service's plugin; it did not start its own.
	ri, err := state.ReadReattach(cfg.StateDir)
	if err != nil || ri.Pid != st.pluginPC.Process.Pid {
		t.Fatalf("the reattach file names pid %d (%v), not the swarmtx service's plugin (pid %d)", ri.Pid, err, st.pluginPC.Process.Pid)
	}
	log.Info("stack up: the hook attached live/show to the service's plugin", "pid", ri.Pid, "port", st.port)
	return st
}

// scrapeFrom GETs path from swarmtx's port with the connection made from
// address src, added to the test namespace's loopback if it is not there.
func (st *composeStack) scrapeFrom(ctx context.Context, src, path string) (string, int, error) {
	ip := net.ParseIP(src)
	if ip == nil {
		return "", 0, fmt.Errorf("bad source address %q", src)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	if c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(harness.NetnsHost, strconv.Itoa(st.port))); err == nil {
		c.Close()
	} else {
		ipCmd := harness.LookSbin("ip")
		if out, err := exec.Command(ipCmd, "addr", "add", src+"/32", "dev", "lo").CombinedOutput(); err != nil {
			return "", 0, fmt.Errorf("adding %s to lo: %v: %s", src, err, out)
		}
	}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(harness.NetnsHost, strconv.Itoa(st.port)), Path: path}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// startDeployProcess starts a process of the stack with its output in dir/name.log
// and stops it (SIGTERM, then SIGKILL after 10 s) on cleanup.
func startDeployProcess(t *testing.T, dir, name, bin string, args ...string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	f.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return cmd, done
}

func deployLogTail(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	return tail(string(b), 4000)
}

// deployLogWriter sends slog's lines to the test log.
type deployLogWriter struct{ t *testing.T }

func (w deployLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// --- prometheus.yml -----------------------------------------------------------

type promJob struct {
	name, metricsPath, scheme string
	targets                   []string
}

func loadPrometheusJob(t *testing.T, root string) promJob {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, prometheusYML))
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			Scheme        string `yaml:"scheme"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &pc); err != nil {
		t.Fatalf("%s: %v", prometheusYML, err)
	}
	for _, sc := range pc.ScrapeConfigs {
		if !strings.Contains(sc.JobName, "swarmtx") {
			continue
		}
		j := promJob{name: sc.JobName, metricsPath: sc.MetricsPath, scheme: sc.Scheme}
		if j.metricsPath == "" {
			j.metricsPath = "/metrics" // Prometheus's default
		}
		if j.scheme == "" {
			j.scheme = "http"
		}
		for _, s := range sc.StaticConfigs {
			j.targets = append(j.targets, s.Targets...)
		}
		return j
	}
	t.Fatalf("%s: no swarmtx scrape job", prometheusYML)
	return promJob{}
}

// checkScrapeTarget: every target of the job is the swarmtx service (the
// one whose network namespace the plugin listens in) on swarmtx.yml's
// listen port, over plain HTTP, at the path swarmtx serves metrics on.
func checkScrapeTarget(t *testing.T, cf composeFileT, st *composeStack, job promJob) {
	if len(job.targets) == 0 {
		t.Fatalf("job %s has no targets", job.name)
	}
	for _, target := range job.targets {
		host, port, err := net.SplitHostPort(target)
		if err != nil {
			t.Errorf("target %q: %v", target, err)
			continue
		}
		// The plugin listens in the swarmtx service's network namespace,
		// which may be another service's.
		owner := "swarmtx"
		if o, ok := strings.CutPrefix(cf.Services[owner].NetworkMode, "service:"); ok {
			owner = o
		}
		if host != owner {
			t.Errorf("target %q: the plugin listens in service %s's network namespace", target, owner)
		}
		if port != strconv.Itoa(st.port) {
			t.Errorf("target %q: swarmtx listens on port %d (swarmtx.yml)", target, st.port)
		}
	}
	if job.scheme != "http" {
		t.Errorf("job %s: scheme %s, but swarmtx.yml sets no TLS", job.name, job.scheme)
	}
	// The path is right if the scrape the dashboard check uses worked; a
	// wrong one gets the player's 404, not metrics.
	body, code, err := st.scrapeFrom(t.Context(), st.promAddr, job.metricsPath)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "# TYPE swarmtx_") {
		t.Errorf("job %s: GET %s from %s: HTTP %d, %v; want swarmtx's metrics", job.name, job.metricsPath, st.promAddr, code, err)
	}
}

// --- the dashboard ------------------------------------------------------------

type grafanaDashboard struct {
	exprs       []string    // every PromQL expression of every panel
	labelValues [][2]string // label_values(metric, label) of the variables
}

func loadDashboard(t *testing.T, root string) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, dashboardJSON))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", dashboardJSON, err)
	}
	var d grafanaDashboard
	var panels func(v any)
	panels = func(v any) {
		list, _ := v.([]any)
		for _, p := range list {
			pm, _ := p.(map[string]any)
			targets, _ := pm["targets"].([]any)
			for _, tg := range targets {
				if e, _ := tg.(map[string]any)["expr"].(string); e != "" {
					d.exprs = append(d.exprs, e)
				}
			}
			panels(pm["panels"]) // a row's panels
		}
	}
	panels(doc["panels"])
	tmpl, _ := doc["templating"].(map[string]any)
	vars, _ := tmpl["list"].([]any)
	for _, v := range vars {
		vm, _ := v.(map[string]any)
		if vm["type"] != "query" {
			continue
		}
		q, _ := vm["query"].(string)
		if qm, ok := vm["query"].(map[string]any); ok {
			q, _ = qm["query"].(string)
		}
		inner, ok := strings.CutPrefix(strings.TrimSpace(q), "label_values(")
		inner, ok2 := strings.CutSuffix(inner, ")")
		metric, label, ok3 := strings.Cut(inner, ",")
		if !ok || !ok2 || !ok3 {
			t.Errorf("%s: variable %v: query %q is not label_values(metric, label)", dashboardJSON, vm["name"], q)
			continue
		}
		d.labelValues = append(d.labelValues, [2]string{strings.TrimSpace(metric), strings.TrimSpace(label)})
		d.exprs = append(d.exprs, strings.TrimSpace(metric))
	}
	return d
}

// dashboardProblems lists, for every query, each metric the scrape does not
// have and each label a query filters or groups by that its metric lacks.
// job and instance are labels Prometheus adds, and job must be the
// scrape job's name.
func dashboardProblems(d grafanaDashboard, sc *exposition, job string) []string {
	schema := definedMetrics()
	var out []string
	labelsOf := func(name string) (map[string]bool, string) {
		if ls, ok := sc.labels[name]; ok {
			return ls, ""
		}
		if why, ok := eventOnlyMetrics[name]; ok {
			if ls, ok := schema[name]; ok {
				return ls, ""
			}
			return nil, fmt.Sprintf("metric %s (its series appear on %s) is not defined by swarmtx", name, why)
		}
		return nil, fmt.Sprintf("metric %s is not in the scrape", name)
	}
	for _, e := range d.exprs {
		sels, groups := promqlSelectors(e)
		if len(sels) == 0 {
			out = append(out, fmt.Sprintf("query %q names no metric", e))
		}
		// A label a query groups or matches by (by, on, ...) must be on one
		// of its metrics at least: "a / on (x) group_left b" may group a by
		// labels b lacks. A label in a metric's braces must be on that metric.
		grouped := map[string]bool{"instance": true, "job": true}
		resolved := true
		for _, s := range sels {
			ls, problem := labelsOf(s.name)
			if problem != "" {
				out = append(out, problem+": "+e)
				resolved = false
				continue
			}
			for l := range ls {
				grouped[l] = true
			}
			for _, l := range s.labels {
				if !ls[l] && l != "instance" && l != "job" {
					out = append(out, fmt.Sprintf("metric %s has no label %q: %s", s.name, l, e))
				}
			}
			if v, ok := s.matchers["job"]; ok && v != job {
				out = append(out, fmt.Sprintf("query filters job=%q, but the scrape job is %q: %s", v, job, e))
			}
		}
		for _, l := range groups {
			if !grouped[l] && len(sels) > 0 && resolved {
				out = append(out, fmt.Sprintf("no metric of the query has label %q it groups by: %s", l, e))
			}
		}
	}
	for _, lv := range d.labelValues {
		if ls, problem := labelsOf(lv[0]); problem == "" && !ls[lv[1]] {
			out = append(out, fmt.Sprintf("variable label_values(%s, %s): the metric has no such label", lv[0], lv[1]))
		}
	}
	return out
}

// definedMetrics is every metric swarmtx defines with its labels, read off a
// fresh metrics.Metrics: each vector gets one child (its label count found
// by trying), and a registry of its own gathers the label names.
func definedMetrics() map[string]map[string]bool {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanInterface() {
			continue
		}
		c, ok := f.Interface().(prometheus.Collector)
		if !ok || f.IsNil() {
			continue
		}
		for n := range 6 {
			vals := slices.Repeat([]string{"x"}, n)
			var err error
			switch vec := c.(type) {
			case *prometheus.CounterVec:
				_, err = vec.GetMetricWithLabelValues(vals...)
			case *prometheus.GaugeVec:
				_, err = vec.GetMetricWithLabelValues(vals...)
			case *prometheus.HistogramVec:
				_, err = vec.GetMetricWithLabelValues(vals...)
			}
			if err == nil {
				break
			}
		}
		_ = reg.Register(c)
	}
	fams, _ := reg.Gather()
	out := map[string]map[string]bool{}
	for _, fam := range fams {
		for _, mt := range fam.GetMetric() {
			ls := map[string]bool{}
			for _, lp := range mt.GetLabel() {
				ls[lp.GetName()] = true
			}
			out[fam.GetName()] = ls
		}
	}
	return out
}

// --- the scrape ---------------------------------------------------------------

// exposition are the series names of a Prometheus text exposition
// (histograms and summaries as their _bucket, _sum and _count series) with
// the labels each carries.
type exposition struct{ labels map[string]map[string]bool }

func (s *exposition) names() []string {
	var out []string
	for n := range s.labels {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func parseExposition(body string) *exposition {
	s := &exposition{labels: map[string]map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			continue
		}
		name := line[:end]
		ls := s.labels[name]
		if ls == nil {
			ls = map[string]bool{}
			s.labels[name] = ls
		}
		if line[end] == '{' {
			for _, l := range expositionLabelNames(line[end+1:]) {
				ls[l] = true
			}
		}
	}
	return s
}

// expositionLabelNames reads `a="x",b="y\"z"}...` and returns a and b.
func expositionLabelNames(s string) []string {
	var names []string
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" || s[0] == '}' {
			return names
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return names
		}
		names = append(names, strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		if len(s) == 0 || s[0] != '"' {
			return names
		}
		i := 1
		for i < len(s) && s[i] != '"' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(s) {
			return names
		}
		s = s[i+1:]
	}
}

// --- PromQL -------------------------------------------------------------------

// promSelector is a metric a PromQL expression selects and the labels its
// braces match on.
type promSelector struct {
	name     string
	labels   []string
	matchers map[string]string // label → value, for = matchers
}

// promqlWords are PromQL's keywords, aggregation operators and literals:
// identifiers that are never metric names even when not followed by "(".
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true, "inf": true, "nan": true,
}

// grouping keywords take a parenthesised list of label names.
var promqlGrouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// promqlSelectors returns the metrics an expression selects (identifiers
// followed by "{" or standing bare, not function names or keywords) and the
// labels it groups or matches by, in order of appearance. It handles the
// PromQL dashboards are written in, with Grafana's $variables; strings and
// [range] brackets are skipped.
func promqlSelectors(expr string) ([]promSelector, []string) {
	var sels []promSelector
	var groups []string
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
			i++
		}
		return i
	}
	skipString := func(i int) int { // expr[i] is the opening quote
		q := expr[i]
		for i++; i < len(expr) && expr[i] != q; i++ {
			if expr[i] == '\\' && q != '`' {
				i++
			}
		}
		return i + 1
	}
	ident := func(i int) (string, int) {
		j := i
		for j < len(expr) && isIdent(expr[j]) {
			j++
		}
		return expr[i:j], j
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(i)
		case c == '[':
			for i < len(expr) && expr[i] != ']' {
				i++
			}
			i++
		case c == '$': // a Grafana variable: $name or ${name}
			i++
			if i < len(expr) && expr[i] == '{' {
				for i < len(expr) && expr[i] != '}' {
					i++
				}
				i++
			} else {
				_, i = ident(i)
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			word, j := ident(i)
			next := skipSpace(j)
			switch {
			case promqlGrouping[word]:
				if next < len(expr) && expr[next] == '(' {
					k := next + 1
					for k < len(expr) && expr[k] != ')' {
						k = skipSpace(k)
						if k < len(expr) && isIdentStart(expr[k]) {
							var l string
							l, k = ident(k)
							if !slices.Contains(groups, l) {
								groups = append(groups, l)
							}
						} else if k < len(expr) && expr[k] != ')' {
							k++
						}
					}
					j = k + 1
				}
			case promqlWords[strings.ToLower(word)]:
			case next < len(expr) && expr[next] == '(':
				// a function call
			default:
				sel := promSelector{name: word, matchers: map[string]string{}}
				if next < len(expr) && expr[next] == '{' {
					k := next + 1
					for k < len(expr) && expr[k] != '}' {
						k = skipSpace(k)
						if k < len(expr) && isIdentStart(expr[k]) {
							var l string
							l, k = ident(k)
							sel.labels = append(sel.labels, l)
							k = skipSpace(k)
							op := k
							for k < len(expr) && strings.IndexByte("=!~", expr[k]) >= 0 {
								k++
							}
							k = skipSpace(k)
							if k < len(expr) && (expr[k] == '"' || expr[k] == '\'' || expr[k] == '`') {
								end := skipString(k)
								if expr[op:op+1] == "=" && k-op >= 1 && !strings.ContainsAny(expr[op:k], "~!") {
									if v, err := strconv.Unquote(expr[k:end]); err == nil {
										sel.matchers[l] = v
									}
								}
								k = end
							}
						} else if k < len(expr) && expr[k] != '}' {
							k++
						}
					}
					j = k + 1
				}
				sels = append(sels, sel)
			}
			i = j
		default:
			i++
		}
	}
	return sels, groups
}
