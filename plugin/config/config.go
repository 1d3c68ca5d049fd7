// Package config loads swarmtx's own YAML configuration (`--config
// /etc/swarmtx.yml`). Parsing is strict: an unknown key is an error that
// names the key, so a typo never silently falls back to a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/swarmtx/swarmtx/bridge/httpguard"
	"github.com/swarmtx/swarmtx/bridge/ladder"
	"github.com/swarmtx/swarmtx/plugin/contract"
)

// MaxFileSize bounds the config file read by Load.
const MaxFileSize = 1 << 20

// Duration is a time.Duration written as a Go duration string ("2s", "500ms").
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings only.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration string like \"2s\"", n.Line)}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration like \"2s\" or \"500ms\"", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is swarmtx's configuration. Every key is optional; the comment on
// each field gives its default.
type Config struct {
	// Listen is the HTTP listen address of the plugin (LL-HLS origin,
	// player, signaling, metrics). Default ":8880".
	Listen string `yaml:"listen"`
	// StateDir holds the reattach file, the launch lock and the plugin log.
	// Default "$XDG_RUNTIME_DIR/swarmtx", or "/tmp/swarmtx-<uid>" when
	// XDG_RUNTIME_DIR is unset.
	StateDir string `yaml:"stateDir"`
	// LogFile is the plugin's log file. Default "<stateDir>/plugin.log".
	// "stderr" logs to standard error (for `swarmtx plugin` under systemd).
	LogFile string `yaml:"logFile"`
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string `yaml:"logLevel"`
	// FFmpeg is the ffmpeg binary used for the ABR ladder. Default "": look
	// up "ffmpeg" on PATH. "off" disables the ladder (source rendition only).
	FFmpeg string `yaml:"ffmpeg"`
	// SegmentDuration is the target segment duration (1s..10s). Default "2s".
	SegmentDuration Duration `yaml:"segmentDuration"`
	// PartDuration is the LL-HLS part duration (100ms..2s, at most half the
	// segment duration). Default "500ms".
	PartDuration Duration `yaml:"partDuration"`
	// Ladder is the ABR ladder: "source" plus heights like "720p".
	// Default "source,720p,480p,360p". Renditions are never upscaled.
	Ladder string `yaml:"ladder"`
	// ReconnectWindow is how long a dropped publisher may take to come back
	// and continue the same playlist (0s..10m). Default "30s".
	ReconnectWindow Duration `yaml:"reconnectWindow"`
	// WindowSegments is the number of segments in the playlist window
	// (3..60). Default 8.
	WindowSegments int `yaml:"windowSegments"`
	// HoldBackParts is how many parts behind the live edge players play
	// (the playlists' PART-HOLD-BACK; 3..20, at most two segments' worth).
	// Each part more gives the swarm a part's time longer to carry every
	// part before viewers fetch it over HTTP: for operators who trade
	// latency for server egress, 8 (4 s behind live at 500 ms parts) is
	// the max-offload setting. Default 3.
	HoldBackParts int `yaml:"holdBackParts"`
	// TLSCert and TLSKey, both or neither, are the PEM certificate (with
	// its chain) and key the origin serves HTTPS and WSS with, reloaded
	// when the files change. Default: none, or MediaMTX's hlsServerCert
	// and hlsServerKey when its hlsEncryption is on; else plain HTTP.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
	// PublicURL is an optional base URL (e.g. "https://live.example.com")
	// used in the URLs printed to operators. Default "": derived from Listen.
	PublicURL string `yaml:"publicURL"`
	// MediaMTXConfig is MediaMTX's mediamtx.yml, whose auth settings
	// (authMethod, authInternalUsers, authHTTPAddress, authHTTPExclude,
	// hlsTrustedProxies) decide who may read what from the origin, as
	// MediaMTX decides it. Default: the first file MediaMTX itself would
	// load (mediamtx.yml in the working directory, then
	// /usr/local/etc/mediamtx.yml, /usr/etc/mediamtx.yml,
	// /etc/mediamtx/mediamtx.yml); with none, MediaMTX's defaults.
	MediaMTXConfig string `yaml:"mediamtxConfig"`
	// ICEServers are STUN/TURN servers given to viewers for their peer
	// connections, besides the built-in one (stunAddress). Default: MediaMTX's
	// webrtcICEServers2; with none there, none: no third-party host is
	// contacted. "iceServers: []" gives none even when MediaMTX lists some.
	ICEServers []ICEServer `yaml:"iceServers"`
	// RelayOnly makes every viewer use TURN relays only, so no viewer's
	// address is exposed to other viewers. Needs a TURN server (turn or
	// iceServers). Default false (viewers may still ask for it themselves).
	RelayOnly bool `yaml:"relayOnly"`
	// ICECredentialLifetime is how long the TURN credentials minted for a
	// viewer at join last (1m..168h). Default "24h".
	ICECredentialLifetime Duration `yaml:"iceCredentialLifetime"`
	// STUNAddress is the UDP address of the built-in STUN server, given to
	// every viewer under the name it reached the origin by (or the first
	// of publicHosts). "off" turns it off. Default ":3478".
	STUNAddress string `yaml:"stunAddress"`
	// TURN is the built-in TURN relay, on the STUN server's port. Default off.
	TURN TURNConfig `yaml:"turn"`
	// PublicHosts are the origin's public IP addresses or names, for an
	// origin behind a 1:1 NAT (a cloud VM with a private interface
	// address): its own peers offer them to viewers. Default: MediaMTX's
	// webrtcAdditionalHosts; with none, the interfaces' addresses only.
	PublicHosts []string `yaml:"publicHosts"`
	// ICEUDPAddress is the one UDP address all of the origin's own peers
	// take WebRTC traffic on. "off": a random port per connection.
	// Default ":8881".
	ICEUDPAddress string `yaml:"iceUDPAddress"`
	// ICETCPAddress is the TCP address they take ICE-TCP on, for viewers
	// whose network blocks UDP. "off" turns ICE-TCP off. Default ":8881".
	ICETCPAddress string `yaml:"iceTCPAddress"`

	// The HTTP origin's limits against slow readers and floods of held
	// requests (see bridge/httpguard).

	// HTTPMinSendRate is the rate, in bytes per second, at which a viewer
	// must take a response after httpSendGrace; the connection of a slower
	// reader is closed (1024..100000000). Default 8192.
	HTTPMinSendRate int `yaml:"httpMinSendRate"`
	// HTTPSendGrace is how much longer than httpMinSendRate allows a
	// response may take (1s..1m). Default "5s".
	HTTPSendGrace Duration `yaml:"httpSendGrace"`
	// HTTPReadHeaderTimeout bounds reading a request's headers (1s..1m).
	// Default "10s".
	HTTPReadHeaderTimeout Duration `yaml:"httpReadHeaderTimeout"`
	// HTTPReadTimeout bounds reading a whole request with its body, at
	// least httpReadHeaderTimeout (1s..10m). Requests held waiting for
	// media are not cut by it. Default "30s".
	HTTPReadTimeout Duration `yaml:"httpReadTimeout"`
	// HTTPIdleTimeout closes a keep-alive connection that sends no new
	// request (1s..10m). Default "60s".
	HTTPIdleTimeout Duration `yaml:"httpIdleTimeout"`
	// HTTPMaxConnsPerNetwork bounds the open connections from one network
	// (IPv4 address or IPv6 /64); loopback, where a reverse proxy would
	// be, is exempt (1..1000000). Default 256.
	HTTPMaxConnsPerNetwork int `yaml:"httpMaxConnsPerNetwork"`
	// HTTPMaxHeldPerNetwork bounds the requests from one network held open
	// waiting for media (blocking playlist reloads, preload-hinted parts);
	// behind a proxy on loopback the network is the X-Forwarded-For one.
	// Beyond it a request gets 429 (1..1000000). Default 128.
	HTTPMaxHeldPerNetwork int `yaml:"httpMaxHeldPerNetwork"`
	// HTTPMaxHeld bounds the requests held open in all, at least
	// httpMaxHeldPerNetwork (1..10000000). Default 10000.
	HTTPMaxHeld int `yaml:"httpMaxHeld"`

	// SwarmMaxSessionsPerNetwork bounds a stream's swarm sessions from one
	// network (IPv4 address or IPv6 /64; loopback without X-Forwarded-For
	// is exempt): enough for a household or an office behind one NAT
	// (1..1000000). Default 64.
	SwarmMaxSessionsPerNetwork int `yaml:"swarmMaxSessionsPerNetwork"`
	// SwarmJoinsPerSecondPerNetwork bounds how fast one network may join a
	// stream's swarm, with bursts of eight times as many (1..10000).
	// Default 2.
	SwarmJoinsPerSecondPerNetwork int `yaml:"swarmJoinsPerSecondPerNetwork"`
}

// DefaultStateDir is $XDG_RUNTIME_DIR/swarmtx or /tmp/swarmtx-<uid>.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "swarmtx")
	}
	return filepath.Join(os.TempDir(), "swarmtx-"+strconv.Itoa(os.Getuid()))
}

// Default returns the configuration with every default filled in.
func Default() Config {
	o := contract.DefaultStreamOptions()
	c := Config{
		Listen:          ":8880",
		StateDir:        DefaultStateDir(),
		LogLevel:        "info",
		SegmentDuration: Duration(o.SegmentDuration),
		PartDuration:    Duration(o.PartDuration),
		Ladder:          o.Ladder,
		ReconnectWindow: Duration(o.ReconnectWindow),
		WindowSegments:  o.WindowSegments,
		HoldBackParts:   o.HoldBackParts,

		HTTPMinSendRate:        httpguard.DefaultMinSendRate,
		HTTPSendGrace:          Duration(httpguard.DefaultSendGrace),
		HTTPReadHeaderTimeout:  Duration(httpguard.DefaultReadHeaderTimeout),
		HTTPReadTimeout:        Duration(httpguard.DefaultReadTimeout),
		HTTPIdleTimeout:        Duration(httpguard.DefaultIdleTimeout),
		HTTPMaxConnsPerNetwork: httpguard.DefaultMaxConnsPerNetwork,
		HTTPMaxHeldPerNetwork:  httpguard.DefaultMaxHeldPerNetwork,
		HTTPMaxHeld:            httpguard.DefaultMaxHeld,

		SwarmMaxSessionsPerNetwork:    64,
		SwarmJoinsPerSecondPerNetwork: 2,

		ICECredentialLifetime: Duration(24 * time.Hour),
		STUNAddress:           ":3478",
		TURN:                  defaultTURN(),
		ICEUDPAddress:         ":8881",
		ICETCPAddress:         ":8881",
	}
	c.LogFile = filepath.Join(c.StateDir, "plugin.log")
	return c
}

// Load reads the file at path over the defaults and validates the result.
// An empty path gives the defaults. Errors name the file and the key.
func Load(path string) (Config, error) {
	if path == "" {
		c := Default()
		return c, c.Validate()
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileSize)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse parses YAML over the defaults and validates the result.
func Parse(data []byte) (Config, error) {
	c := Default()
	explicitLog := false
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, cleanYAMLError(err, data)
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return Config{}, errors.New("more than one YAML document")
		}
		// stateDir given without logFile moves the default log into stateDir.
		var keys map[string]any
		if err := yaml.Unmarshal(data, &keys); err == nil {
			_, explicitLog = keys["logFile"]
		}
	}
	if !explicitLog {
		c.LogFile = filepath.Join(c.StateDir, "plugin.log")
	}
	return c, c.Validate()
}

// cleanYAMLError rewrites yaml.v3's type errors so that each names the key
// it is about ("key windowSegments: line 3: cannot unmarshal ...").
func cleanYAMLError(err error, data []byte) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	keyAt := map[int]string{} // line -> top-level key on that line
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			keyAt[m.Content[i].Line] = m.Content[i].Value
			keyAt[m.Content[i+1].Line] = m.Content[i].Value
		}
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		// yaml.v3 says "line 2: field foo not found in type config.Config".
		if j := strings.Index(m, " not found in type "); j >= 0 && strings.Contains(m, "field ") {
			m = strings.Replace(m[:j], "field ", "unknown key ", 1)
		} else if !strings.Contains(m, "unknown key") {
			var line int
			if _, err := fmt.Sscanf(m, "line %d:", &line); err == nil && keyAt[line] != "" {
				m = "key " + keyAt[line] + ": " + m
			}
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}

// StreamOptions returns the per-stream options the config sets.
func (c Config) StreamOptions() contract.StreamOptions {
	return contract.StreamOptions{
		SegmentDuration: c.SegmentDuration.D(),
		PartDuration:    c.PartDuration.D(),
		ReconnectWindow: c.ReconnectWindow.D(),
		Ladder:          c.Ladder,
		WindowSegments:  c.WindowSegments,
		HoldBackParts:   c.HoldBackParts,
	}
}

// HTTPSettings returns the HTTP origin's limits the config sets.
func (c Config) HTTPSettings() httpguard.Settings {
	return httpguard.Settings{
		MinSendRate:        c.HTTPMinSendRate,
		SendGrace:          c.HTTPSendGrace.D(),
		ReadHeaderTimeout:  c.HTTPReadHeaderTimeout.D(),
		ReadTimeout:        c.HTTPReadTimeout.D(),
		IdleTimeout:        c.HTTPIdleTimeout.D(),
		MaxConnsPerNetwork: c.HTTPMaxConnsPerNetwork,
		MaxHeldPerNetwork:  c.HTTPMaxHeldPerNetwork,
		MaxHeld:            c.HTTPMaxHeld,
	}
}

// Validate checks every key; errors name the key and the bad value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, val, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s %q: %s", key, val, fmt.Sprintf(format, args...)))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", c.Listen, "want host:port or :port")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("listen", c.Listen, "bad port")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tlsCert", c.TLSCert, "tlsCert and tlsKey go together (tlsKey %q)", c.TLSKey)
	}
	if c.StateDir == "" || !filepath.IsAbs(c.StateDir) {
		bad("stateDir", c.StateDir, "must be an absolute directory path")
	} else if len(c.StateDir) > 80 {
		// go-plugin puts its unix socket in stateDir; sun_path is 108 bytes.
		bad("stateDir", c.StateDir, "longer than 80 bytes (the plugin's unix socket lives there)")
	}
	if c.LogFile != "stderr" && (c.LogFile == "" || !filepath.IsAbs(c.LogFile)) {
		bad("logFile", c.LogFile, `must be an absolute file path or "stderr"`)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", c.LogLevel, "must be debug, info, warn or error")
	}
	if strings.ContainsAny(c.FFmpeg, "\x00\n") {
		bad("ffmpeg", c.FFmpeg, "invalid characters")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("publicURL", c.PublicURL, "must be an http:// or https:// URL")
		}
	}
	errs = append(errs, c.validateNetwork(bad)...)
	c.validateHTTP(bad)
	if _, err := ladder.ParseLadder(c.Ladder); err != nil {
		bad("ladder", c.Ladder, "%v", err)
	}
	if err := c.StreamOptions().Validate(); err != nil {
		var ve *contract.ValidationError
		for _, e := range unjoin(err) {
			if errors.As(e, &ve) {
				key := map[string]string{
					"options.segment_duration": "segmentDuration",
					"options.part_duration":    "partDuration",
					"options.reconnect_window": "reconnectWindow",
					"options.window_segments":  "windowSegments",
					"options.hold_back_parts":  "holdBackParts",
					"options.ladder":           "ladder",
				}[ve.Field]
				bad(key, ve.Value, "%s", ve.Reason)
			} else {
				errs = append(errs, e)
			}
		}
	}
	return errors.Join(errs...)
}

func (c Config) validateHTTP(bad func(key, val, format string, args ...any)) {
	ints := []struct {
		key      string
		v        int
		min, max int
	}{
		{httpguard.KeyMinSendRate, c.HTTPMinSendRate, 1024, 100_000_000},
		{httpguard.KeyMaxConnsPerNetwork, c.HTTPMaxConnsPerNetwork, 1, 1_000_000},
		{httpguard.KeyMaxHeldPerNetwork, c.HTTPMaxHeldPerNetwork, 1, 1_000_000},
		{httpguard.KeyMaxHeld, c.HTTPMaxHeld, 1, 10_000_000},
		{"swarmMaxSessionsPerNetwork", c.SwarmMaxSessionsPerNetwork, 1, 1_000_000},
		{"swarmJoinsPerSecondPerNetwork", c.SwarmJoinsPerSecondPerNetwork, 1, 10_000},
	}
	for _, k := range ints {
		if k.v < k.min || k.v > k.max {
			bad(k.key, strconv.Itoa(k.v), "must be %d..%d", k.min, k.max)
		}
	}
	durations := []struct {
		key      string
		v        Duration
		min, max time.Duration
	}{
		{httpguard.KeySendGrace, c.HTTPSendGrace, time.Second, time.Minute},
		{"httpReadHeaderTimeout", c.HTTPReadHeaderTimeout, time.Second, time.Minute},
		{"httpReadTimeout", c.HTTPReadTimeout, time.Second, 10 * time.Minute},
		{"httpIdleTimeout", c.HTTPIdleTimeout, time.Second, 10 * time.Minute},
	}
	for _, k := range durations {
		if k.v.D() < k.min || k.v.D() > k.max {
			bad(k.key, k.v.D().String(), "must be %v..%v", k.min, k.max)
		}
	}
	if c.HTTPReadTimeout < c.HTTPReadHeaderTimeout {
		bad("httpReadTimeout", c.HTTPReadTimeout.D().String(), "must be at least httpReadHeaderTimeout (%v)", c.HTTPReadHeaderTimeout.D())
	}
	if c.HTTPMaxHeld < c.HTTPMaxHeldPerNetwork {
		bad(httpguard.KeyMaxHeld, strconv.Itoa(c.HTTPMaxHeld), "must be at least httpMaxHeldPerNetwork (%d)", c.HTTPMaxHeldPerNetwork)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// FFmpegEnabled reports whether the ladder may use ffmpeg.
func (c Config) FFmpegEnabled() bool { return c.FFmpeg != "off" }
