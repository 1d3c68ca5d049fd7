package mtxconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPullURL(t *testing.T) {
	tests := []struct {
		name, yaml, path, query string
		user, pass              string
		want, wantErr           string
	}{
		{name: "defaults", path: "live/show", want: "rtmp://127.0.0.1:1935/live/show"},
		{name: "unknown keys ignored", yaml: "logLevel: info\nwebrtcICEServers2: []\npaths:\n  all_others:\n", path: "a", want: "rtmp://127.0.0.1:1935/a"},
		{name: "address", yaml: "rtmpAddress: 10.0.0.5:2935\n", path: "live/x", want: "rtmp://10.0.0.5:2935/live/x"},
		{name: "wildcard v4", yaml: "rtmpAddress: 0.0.0.0:1935\n", path: "p", want: "rtmp://127.0.0.1:1935/p"},
		{name: "wildcard v6", yaml: "rtmpAddress: '[::]:1935'\n", path: "p", want: "rtmp://[::1]:1935/p"},
		{name: "enc no bool", yaml: "rtmpEncryption: no\n", path: "p", want: "rtmp://127.0.0.1:1935/p"},
		{name: "enc optional", yaml: "rtmpEncryption: optional\n", path: "p", want: "rtmp://127.0.0.1:1935/p"},
		{name: "enc strict", yaml: "rtmpEncryption: strict\nrtmpsAddress: :1937\n", path: "p", want: "rtmps://127.0.0.1:1937/p"},
		{name: "query kept", path: "p", query: "a=1&b=2", want: "rtmp://127.0.0.1:1935/p?a=1&b=2"},
		{name: "creds", path: "p", query: "user=pub&pass=x", user: "reader", pass: "s&cret", want: "rtmp://127.0.0.1:1935/p?pass=s%26cret&user=reader"},
		{name: "rtmp yes", yaml: "rtmp: yes\n", path: "p", want: "rtmp://127.0.0.1:1935/p"},
		{name: "rtmp off", yaml: "rtmp: no\n", path: "p", wantErr: "key rtmp is off"},
		{name: "rtmpDisable", yaml: "rtmpDisable: yes\n", path: "p", wantErr: "key rtmp is off"},
		{name: "rtmp bad", yaml: "rtmp: maybe\n", path: "p", wantErr: "key rtmp (line 1)"},
		{name: "enc bad", yaml: "rtmpEncryption: always\n", path: "p", wantErr: "key rtmpEncryption"},
		{name: "addr bad", yaml: "rtmpAddress: 1935\n", path: "p", wantErr: "key rtmpAddress"},
		{name: "addr port", yaml: "rtmpAddress: :0\n", path: "p", wantErr: "key rtmpAddress"},
		{name: "addr map", yaml: "rtmpAddress: {a: 1}\n", path: "p", wantErr: "key rtmpAddress (line 1): want a string"},
		{name: "not mapping", yaml: "- 1\n", path: "p", wantErr: "not a mapping"},
		{name: "syntax", yaml: "rtmp: [\n", path: "p", wantErr: "mediamtx config test.yml"},
		{name: "bad query", path: "p", query: "a=%zz", wantErr: `query "a=%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "test.yml")
			if err == nil {
				c.ReadUser, c.ReadPass = tt.user, tt.pass
				var u string
				u, err = PullURL(c, tt.path, tt.query)
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
			if err != nil && !strings.Contains(err.Error(), "test.yml") && !strings.Contains(err.Error(), "query") {
				t.Fatalf("error %v does not name the file", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mediamtx.yml")
	os.WriteFile(p, []byte("rtmpAddress: :2000\nhlsAddress: :9999\n"), 0o600)
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
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("rtmp: yes\nrtmpAddress: :1935\nrtmpEncryption: strict\n"), "live/show", "a=b")
	f.Add([]byte("rtmpAddress: '[::]:1'\npaths: {all: {}}\n"), "x", "")
	f.Add([]byte("&a [*a,*a,*a]"), "", "%")
	f.Fuzz(func(t *testing.T, data []byte, path, query string) {
		if len(data) > 1<<16 {
			return
		}
		c, err := Parse(data, "fuzz.yml")
		if err != nil {
			return
		}
		u, err := PullURL(c, path, query)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "rtmp://") && !strings.HasPrefix(u, "rtmps://") {
			t.Fatalf("bad url %q", u)
		}
	})
}
