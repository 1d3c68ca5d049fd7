package mtxconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPullURL(t *testing.T) {
	tests := []struct {
		name, yaml, path string
		user, pass       string
		want, wantErr    string
	}{
		{name: "defaults", path: "live/show", want: "rtsp://127.0.0.1:8554/live/show"},
		{name: "unknown keys ignored", yaml: "logLevel: info\nwebrtcICEServers2: []\npaths:\n  all_others:\n", path: "a", want: "rtsp://127.0.0.1:8554/a"},
		{name: "rtsp address", yaml: "rtspAddress: 10.0.0.5:2554\n", path: "live/x", want: "rtsp://10.0.0.5:2554/live/x"},
		{name: "wildcard v4", yaml: "rtspAddress: 0.0.0.0:8554\n", path: "p", want: "rtsp://127.0.0.1:8554/p"},
		{name: "wildcard v6", yaml: "rtspAddress: '[::]:8554'\n", path: "p", want: "rtsp://[::1]:8554/p"},
		{name: "rtsp strict", yaml: "rtspEncryption: strict\nrtspsAddress: :8323\n", path: "p", want: "rtsps://127.0.0.1:8323/p"},
		{name: "rtsp creds", path: "p", user: "reader", pass: "s&cret", want: "rtsp://reader:s&cret@127.0.0.1:8554/p"},
		{name: "rtsp off falls back to rtmp", yaml: "rtsp: no\n", path: "live/show", want: "rtmp://127.0.0.1:1935/live/show"},
		{name: "rtspDisable", yaml: "rtspDisable: yes\nrtmpAddress: :2935\n", path: "p", want: "rtmp://127.0.0.1:2935/p"},
		{name: "rtmp enc no bool", yaml: "rtsp: no\nrtmpEncryption: no\n", path: "p", want: "rtmp://127.0.0.1:1935/p"},
		{name: "rtmp enc strict", yaml: "rtsp: no\nrtmpEncryption: strict\nrtmpsAddress: :1937\n", path: "p", want: "rtmps://127.0.0.1:1937/p"},
		{name: "rtmp creds", yaml: "rtsp: no\n", path: "p", user: "reader", pass: "s&cret", want: "rtmp://127.0.0.1:1935/p?pass=s%26cret&user=reader"},
		{name: "both off", yaml: "rtsp: no\nrtmp: no\n", path: "p", wantErr: "keys rtsp and rtmp are both off"},
		{name: "rtmp bad", yaml: "rtmp: maybe\n", path: "p", wantErr: "key rtmp (line 1)"},
		{name: "enc bad", yaml: "rtmpEncryption: always\n", path: "p", wantErr: "key rtmpEncryption"},
		{name: "rtsp enc bad", yaml: "rtspEncryption: yes\n", path: "p", wantErr: "key rtspEncryption"},
		{name: "addr bad", yaml: "rtspAddress: 8554\n", path: "p", wantErr: "key rtspAddress"},
		{name: "addr port", yaml: "rtmpAddress: :0\n", path: "p", wantErr: "key rtmpAddress"},
		{name: "addr map", yaml: "rtmpAddress: {a: 1}\n", path: "p", wantErr: "key rtmpAddress (line 1): want a string"},
		{name: "not mapping", yaml: "- 1\n", path: "p", wantErr: "not a mapping"},
		{name: "syntax", yaml: "rtmp: [\n", path: "p", wantErr: "mediamtx config test.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "test.yml")
			if err == nil {
				c.ReadUser, c.ReadPass = tt.user, tt.pass
				var u string
				u, err = PullURL(c, tt.path)
				if err == nil && u != tt.want {
					t.Fatalf("got %q, want %q", u, tt.want)
				}
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "test.yml") {
				t.Fatalf("error %v does not name the file", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mediamtx.yml")
	if err := os.WriteFile(p, []byte("rtmpAddress: :2000\nhlsAddress: :9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.HLSAddress != ":9999" || c.File != p {
		t.Fatalf("%+v", c)
	}
	if _, err := Load(p + ".missing"); err == nil || !strings.Contains(err.Error(), p+".missing") {
		t.Fatalf("got %v", err)
	}
	// MediaMTX's HLS certificate, relative paths from its config's folder.
	dir := filepath.Dir(p)
	if c.HLSEncryption || c.HLSServerCert != filepath.Join(dir, "server.crt") || c.HLSServerKey != filepath.Join(dir, "server.key") {
		t.Fatalf("default HLS TLS: %v %q %q", c.HLSEncryption, c.HLSServerCert, c.HLSServerKey)
	}
	os.WriteFile(p, []byte("hlsEncryption: yes\nhlsServerCert: tls/hls.crt\nhlsServerKey: /etc/hls.key\n"), 0o600)
	if c, err = Load(p); err != nil || !c.HLSEncryption || c.HLSServerCert != filepath.Join(dir, "tls/hls.crt") || c.HLSServerKey != "/etc/hls.key" {
		t.Fatalf("HLS TLS: %v %q %q, %v", c.HLSEncryption, c.HLSServerCert, c.HLSServerKey, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("rtmp: yes\nrtmpAddress: :1935\nrtmpEncryption: strict\n"), "live/show")
	f.Add([]byte("rtsp: no\nrtmpAddress: '[::]:1'\npaths: {all: {}}\n"), "x")
	f.Add([]byte("&a [*a,*a,*a]"), "")
	f.Add([]byte("webrtcICEServers2: [{url: 'turn:t.example.com:3478', username: AUTH_SECRET, password: s3cret, clientOnly: true}]\nwebrtcAdditionalHosts: [203.0.113.7]\nwebrtcIPsFromInterfaces: no\nwebrtcIPsFromInterfacesList: [eth0]\n"), "live/show")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		if len(data) > 1<<16 {
			return
		}
		c, err := Parse(data, "fuzz.yml")
		if err != nil {
			return
		}
		u, err := PullURL(c, path)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "rtsp://") && !strings.HasPrefix(u, "rtsps://") && !strings.HasPrefix(u, "rtmp://") && !strings.HasPrefix(u, "rtmps://") {
			t.Fatalf("bad url %q", u)
		}
	})
}
