package access

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matthewhartstonge/argon2"
)

func mustPerm(t testing.TB, action, path string) Permission {
	t.Helper()
	p, err := NewPermission(action, path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustCred(t testing.TB, s string) Credential {
	t.Helper()
	c, err := NewCredential(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestInternal decides a matrix of users, passwords (plain, sha256,
// argon2), addresses and paths (exact and regular expression) as
// MediaMTX's internal method does.
func TestInternal(t *testing.T) {
	cfg := argon2.DefaultConfig()
	enc, err := cfg.HashEncoded([]byte("carolpw"))
	if err != nil {
		t.Fatal(err)
	}
	in := &Internal{Users: []User{
		{User: "any", Permissions: []Permission{mustPerm(t, "read", "open")}},
		{User: mustCred(t, "alice"), Pass: mustCred(t, "alicepw"), Permissions: []Permission{mustPerm(t, "read", "live/show")}},
		{User: mustCred(t, "bob"), Pass: mustCred(t, sha("bobpw")), Permissions: []Permission{mustPerm(t, "read", "~^live/")}},
		{User: mustCred(t, "carol"), Pass: mustCred(t, "argon2:"+string(enc)), IPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")},
			Permissions: []Permission{mustPerm(t, "read", "")}},
		{User: "any", IPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Permissions: []Permission{mustPerm(t, "metrics", "")}},
	}}
	local, lan, far := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("192.0.2.9")
	for _, c := range []struct {
		name   string
		req    Request
		allow  bool
		askCrd bool
	}{
		{"anyone reads open", Request{Action: ActionRead, Path: "open", IP: far}, true, false},
		{"nobody without credentials reads live/show", Request{Action: ActionRead, Path: "live/show", IP: far}, false, true},
		{"alice reads live/show", Request{Action: ActionRead, Path: "live/show", IP: far, Credentials: Credentials{User: "alice", Pass: "alicepw"}}, true, false},
		{"alice's path is exact", Request{Action: ActionRead, Path: "live/show2", IP: far, Credentials: Credentials{User: "alice", Pass: "alicepw"}}, false, false},
		{"alice with a wrong password", Request{Action: ActionRead, Path: "live/show", IP: far, Credentials: Credentials{User: "alice", Pass: "nope"}}, false, false},
		{"bob's sha256 and regex", Request{Action: ActionRead, Path: "live/other", IP: far, Credentials: Credentials{User: "bob", Pass: "bobpw"}}, true, false},
		{"bob's regex does not match", Request{Action: ActionRead, Path: "vod/x", IP: far, Credentials: Credentials{User: "bob", Pass: "bobpw"}}, false, false},
		{"bob with the hash itself", Request{Action: ActionRead, Path: "live/other", IP: far, Credentials: Credentials{User: "bob", Pass: sha("bobpw")}}, false, false},
		{"carol's argon2 from her network", Request{Action: ActionRead, Path: "vod/x", IP: lan, Credentials: Credentials{User: "carol", Pass: "carolpw"}}, true, false},
		{"carol from elsewhere", Request{Action: ActionRead, Path: "vod/x", IP: far, Credentials: Credentials{User: "carol", Pass: "carolpw"}}, false, false},
		{"metrics from this host", Request{Action: ActionMetrics, IP: local}, true, false},
		{"metrics from elsewhere", Request{Action: ActionMetrics, IP: far}, false, true},
		{"a read permission is not metrics", Request{Action: ActionMetrics, IP: lan, Credentials: Credentials{User: "carol", Pass: "carolpw"}}, false, false},
	} {
		err := in.Check(context.Background(), c.req)
		if (err == nil) != c.allow {
			t.Errorf("%s: allowed %v, want %v (%v)", c.name, err == nil, c.allow, err)
		}
		var d *Denied
		if err != nil && (!errors.As(err, &d) || d.AskCredentials != c.askCrd) {
			t.Errorf("%s: %v, want a denial asking for credentials: %v", c.name, err, c.askCrd)
		}
	}
}

func TestCredentialsFrom(t *testing.T) {
	for _, c := range []struct {
		header string
		want   Credentials
	}{
		{"", Credentials{}},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), Credentials{User: "u", Pass: "p"}},
		{"Bearer u:p", Credentials{User: "u", Pass: "p"}},
		{"Bearer eyJ.abc.def", Credentials{Token: "eyJ.abc.def"}},
		{"Bearer a:b:c", Credentials{Token: "a:b:c"}},
	} {
		r := httptest.NewRequest("GET", "/live/show/index.m3u8", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if got := CredentialsFrom(r); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.header, got, c.want)
		}
	}
}

func TestNewCredentialAndPermission(t *testing.T) {
	for _, bad := range []string{"sha256:not base64!", "argon2:$nope", "spa ce", "quote\""} {
		if _, err := NewCredential(bad); err == nil {
			t.Errorf("NewCredential(%q) accepted", bad)
		}
	}
	if _, err := NewPermission("read", "~(["); err == nil {
		t.Error("a regular expression that does not compile was accepted")
	}
	if _, err := NewPermission("watch", ""); err == nil {
		t.Error("an unknown action was accepted")
	}
}

// TestHTTP asks an auth service with MediaMTX's body, caches its answers
// and skips the excluded actions.
func TestHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var body strings.Builder
		buf := make([]byte, 4096)
		n, _ := r.Body.Read(buf)
		body.Write(buf[:n])
		if !strings.Contains(body.String(), `"protocol":"hls"`) || !strings.Contains(body.String(), `"action":"read"`) {
			t.Errorf("body %s", body.String())
		}
		if strings.Contains(body.String(), `"user":"alice","password":"alicepw"`) {
			return
		}
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	h := &HTTP{Address: srv.URL, Exclude: []Permission{mustPerm(t, "metrics", "")}}
	ip := netip.MustParseAddr("10.77.0.2")
	alice := Request{Action: ActionRead, Path: "live/show", IP: ip, Credentials: Credentials{User: "alice", Pass: "alicepw"}}
	for range 5 {
		if err := h.Check(context.Background(), alice); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls for 5 checks of one viewer, want 1 (cached)", n)
	}
	err := h.Check(context.Background(), Request{Action: ActionRead, Path: "live/show", IP: ip})
	var d *Denied
	if !errors.As(err, &d) || !d.AskCredentials {
		t.Errorf("no credentials: %v", err)
	}
	if err := h.Check(context.Background(), Request{Action: ActionMetrics, IP: ip}); err != nil {
		t.Errorf("an excluded action was refused: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (metrics is excluded)", n)
	}
	down := &HTTP{Address: "http://127.0.0.1:1/auth"}
	if err := down.Check(context.Background(), alice); err == nil {
		t.Error("allowed with the auth service down")
	}
}

// FuzzCredentials: whatever a client sends as Authorization, taking the
// credentials and checking them against every kind of stored credential
// neither panics nor lets a wrong secret through.
func FuzzCredentials(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:alicepw")))
	f.Add("Bearer alice:alicepw")
	f.Add("Bearer eyJhbGciOi.x.y")
	f.Add("Basic !!!")
	users := []Credential{"alicepw", Credential(sha("alicepw"))}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/x/index.m3u8", nil)
		r.Header.Set("Authorization", header)
		c := CredentialsFrom(r)
		for _, u := range users {
			if u.Check(c.Pass) && c.Pass != "alicepw" {
				t.Fatalf("%q matched %q", c.Pass, u)
			}
		}
		if _, err := NewCredential(c.Pass); err == nil {
			_ = Credential(c.Pass).Check(c.Pass)
		}
	})
}
