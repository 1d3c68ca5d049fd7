package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8880" || c.StateDir != "/run/user/1000/swarmtx" || c.LogFile != "/run/user/1000/swarmtx/plugin.log" ||
		c.LogLevel != "info" || c.FFmpeg != "" || c.SegmentDuration.D() != 2*time.Second || c.PartDuration.D() != 500*time.Millisecond ||
		c.Ladder != "source,720p,480p,360p" || c.ReconnectWindow.D() != 30*time.Second || c.WindowSegments != 8 || c.PublicURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
	if h := c.HTTPSettings(); h.MinSendRate != 8192 || h.SendGrace != 5*time.Second || h.ReadHeaderTimeout != 10*time.Second ||
		h.ReadTimeout != 30*time.Second || h.IdleTimeout != time.Minute || h.MaxConnsPerNetwork != 256 ||
		h.MaxHeldPerNetwork != 128 || h.MaxHeld != 10000 {
		t.Fatalf("HTTP defaults: %+v", h)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if d := DefaultStateDir(); !strings.HasPrefix(filepath.Base(d), "swarmtx-") {
		t.Fatalf("state dir %q", d)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" = ok
		check   func(*testing.T, Config)
	}{
		{"empty", "", "", nil},
		{"comment only", "# nothing\n", "", nil},
		{"all keys", `
listen: 127.0.0.1:9000
stateDir: /var/lib/swarmtx
logFile: /var/log/swarmtx.log
logLevel: debug
ffmpeg: /usr/bin/ffmpeg
segmentDuration: 4s
partDuration: 1s
ladder: source,480p
reconnectWindow: 1m
windowSegments: 12
publicURL: https://live.example.com
`, "", func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9000" || c.LogFile != "/var/log/swarmtx.log" || c.SegmentDuration.D() != 4*time.Second ||
				c.ReconnectWindow.D() != time.Minute || c.WindowSegments != 12 || c.Ladder != "source,480p" {
				t.Fatalf("%+v", c)
			}
		}},
		{"stateDir moves log", "stateDir: /srv/st\n", "", func(t *testing.T, c Config) {
			if c.LogFile != "/srv/st/plugin.log" {
				t.Fatal(c.LogFile)
			}
		}},
		{"ffmpeg off", "ffmpeg: \"off\"\n", "", func(t *testing.T, c Config) {
			if c.FFmpegEnabled() {
				t.Fatal("ffmpeg should be off")
			}
		}},
		{"log stderr", "logFile: stderr\n", "", nil},
		{"unknown key", "listen: :1\nsegmentDurations: 2s\n", "unknown key segmentDurations", nil},
		{"bad duration", "segmentDuration: 2\n", `key segmentDuration: line 1: "2" is not a duration`, nil},
		{"bad duration str", "partDuration: fast\n", `key partDuration: line 1: "fast" is not a duration`, nil},
		{"segment range", "segmentDuration: 20s\n", `segmentDuration "20s"`, nil},
		{"part half", "partDuration: 1500ms\n", `partDuration "1.5s"`, nil},
		{"window", "windowSegments: 1\n", `windowSegments "1"`, nil},
		{"window type", "windowSegments: many\n", "key windowSegments: line 1: cannot unmarshal", nil},
		{"hold-back", "holdBackParts: 2\n", `holdBackParts "2"`, nil},
		{"hold-back past two segments", "holdBackParts: 12\n", `holdBackParts "12": 12 parts of 500ms is 6s, more than two segments (4s)`, nil},
		{"max offload", "holdBackParts: 8\n", "", func(t *testing.T, c Config) {
			if c.StreamOptions().HoldBackParts != 8 {
				t.Fatal(c.StreamOptions())
			}
		}},
		{"reconnect", "reconnectWindow: -1s\n", `reconnectWindow "-1s"`, nil},
		{"ladder", "ladder: 4k\n", `ladder "4k"`, nil},
		{"ladder junk", "ladder: source,720x\n", `ladder "source,720x"`, nil},
		{"ladder dup", "ladder: 720p,0720p\n", `ladder "720p,0720p"`, nil},
		{"ladder tiny", "ladder: 100p\n", `ladder "100p"`, nil},
		{"listen", "listen: nope\n", `listen "nope"`, nil},
		{"listen port", "listen: \":99999\"\n", `listen ":99999"`, nil},
		{"stateDir rel", "stateDir: rel/dir\n", `stateDir "rel/dir"`, nil},
		{"logFile rel", "logFile: x.log\n", `logFile "x.log"`, nil},
		{"logLevel", "logLevel: loud\n", `logLevel "loud"`, nil},
		{"publicURL", "publicURL: ftp://x\n", `publicURL "ftp://x"`, nil},
		{"http limits", `
httpMinSendRate: 16384
httpSendGrace: 3s
httpReadHeaderTimeout: 5s
httpReadTimeout: 1m
httpIdleTimeout: 2m
httpMaxConnsPerNetwork: 1000
httpMaxHeldPerNetwork: 8
httpMaxHeld: 500
`, "", func(t *testing.T, c Config) {
			h := c.HTTPSettings()
			if h.MinSendRate != 16384 || h.SendGrace != 3*time.Second || h.ReadHeaderTimeout != 5*time.Second ||
				h.ReadTimeout != time.Minute || h.IdleTimeout != 2*time.Minute || h.MaxConnsPerNetwork != 1000 ||
				h.MaxHeldPerNetwork != 8 || h.MaxHeld != 500 {
				t.Fatalf("%+v", h)
			}
		}},
		{"min send rate", "httpMinSendRate: 100\n", `httpMinSendRate "100": must be 1024..`, nil},
		{"send grace", "httpSendGrace: 0s\n", `httpSendGrace "0s"`, nil},
		{"send grace type", "httpSendGrace: 5\n", `key httpSendGrace: line 1: "5" is not a duration`, nil},
		{"read header", "httpReadHeaderTimeout: 2m\n", `httpReadHeaderTimeout "2m0s"`, nil},
		{"read below header", "httpReadTimeout: 5s\n", `httpReadTimeout "5s": must be at least httpReadHeaderTimeout`, nil},
		{"idle", "httpIdleTimeout: 1h\n", `httpIdleTimeout "1h0m0s"`, nil},
		{"conns", "httpMaxConnsPerNetwork: 0\n", `httpMaxConnsPerNetwork "0"`, nil},
		{"held per network", "httpMaxHeldPerNetwork: -1\n", `httpMaxHeldPerNetwork "-1"`, nil},
		{"held below per network", "httpMaxHeld: 10\n", `httpMaxHeld "10": must be at least httpMaxHeldPerNetwork (128)`, nil},
		{"held type", "httpMaxHeld: lots\n", "key httpMaxHeld: line 1: cannot unmarshal", nil},
		{"swarm limits", "swarmMaxSessionsPerNetwork: 500\nswarmJoinsPerSecondPerNetwork: 20\n", "", func(t *testing.T, c Config) {
			if c.SwarmMaxSessionsPerNetwork != 500 || c.SwarmJoinsPerSecondPerNetwork != 20 {
				t.Fatalf("%+v", c)
			}
		}},
		{"swarm sessions per network", "swarmMaxSessionsPerNetwork: 0\n", `swarmMaxSessionsPerNetwork "0": must be 1..1000000`, nil},
		{"swarm joins per network", "swarmJoinsPerSecondPerNetwork: 20000\n", `swarmJoinsPerSecondPerNetwork "20000": must be 1..10000`, nil},
		{"not a map", "- a\n- b\n", "cannot unmarshal", nil},
		{"two docs", "listen: :1\n---\nlisten: :2\n", "more than one YAML document", nil},
		{"syntax", "listen: [\n", "yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "swarmtx.yml")
	if err := os.WriteFile(p, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("got %v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Fatalf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("listen: :8880\nsegmentDuration: 2s\n"))
	f.Add([]byte("ladder: source,720p\nwindowSegments: 8\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte("{partDuration: 1ms, x: !!binary AAAA}"))
	f.Add([]byte("stunAddress: :3478\nturn: {enabled: true, relayIP: 203.0.113.7, relayPorts: 50000-50100, quotaMB: 64, maxAllocations: 4}\n"))
	f.Add([]byte("publicHosts: [live.example.com, 203.0.113.7]\niceUDPAddress: off\niceTCPAddress: :8881\niceCredentialLifetime: 1h\n"))
	f.Add([]byte("iceServers: [{urls: ['turn:t.example.com:3478?transport=udp'], secret: 0123456789abcdef, clientOnly: true}]\nrelayOnly: true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that fails Validate: %v", err)
		}
	})
}

func TestTLSKeysGoTogether(t *testing.T) {
	c := Default()
	c.TLSCert = "/etc/swarmtx/cert.pem"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "tlsCert and tlsKey go together") {
		t.Fatalf("tlsCert alone: %v", err)
	}
	c.TLSKey = "/etc/swarmtx/key.pem"
	if err := c.Validate(); err != nil {
		t.Fatalf("both: %v", err)
	}
}
