package mtxconf

import (
	"reflect"
	"strings"
	"testing"
)

func TestWebRTCKeys(t *testing.T) {
	c, err := Parse([]byte(`
webrtcICEServers2:
  - url: stun:stun.example.com:3478
  - url: turn:turn.example.com:3478
    username: AUTH_SECRET
    password: the-shared-secret
    clientOnly: true
webrtcAdditionalHosts: [203.0.113.20, live.example.com]
webrtcIPsFromInterfaces: no
webrtcIPsFromInterfacesList: [eth0]
`), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := WebRTC{
		ICEServers: []ICEServer{
			{URL: "stun:stun.example.com:3478"},
			{URL: "turn:turn.example.com:3478", Username: AuthSecretUser, Password: "the-shared-secret", ClientOnly: true},
		},
		AdditionalHosts:       []string{"203.0.113.20", "live.example.com"},
		IPsFromInterfaces:     false,
		IPsFromInterfacesList: []string{"eth0"},
	}
	if !reflect.DeepEqual(c.WebRTC, want) {
		t.Fatalf("got %+v\nwant %+v", c.WebRTC, want)
	}
	d, _ := Parse(nil, "")
	if !d.WebRTC.IPsFromInterfaces || d.WebRTC.ICEServers != nil {
		t.Fatalf("defaults %+v", d.WebRTC)
	}
	for yaml, wantErr := range map[string]string{
		"webrtcICEServers2: [{username: x}]\n": "entry 0 has no url",
		"webrtcICEServers2: stun:x\n":          "key webrtcICEServers2 (line 1)",
		"webrtcAdditionalHosts: {a: b}\n":      "key webrtcAdditionalHosts (line 1)",
		"webrtcIPsFromInterfaces: sometimes\n": "key webrtcIPsFromInterfaces (line 1)",
		"webrtcIPsFromInterfacesList: [[a]]\n": "key webrtcIPsFromInterfacesList (line 1)",
	} {
		if _, err := Parse([]byte(yaml), "test.yml"); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want %q", yaml, err, wantErr)
		}
	}
}
