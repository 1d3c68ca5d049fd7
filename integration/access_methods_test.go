package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// accessCase is one request of a differential access test.
type accessCase struct {
	name       string
	user, pass string
	query      string
	path       string
	source     string
}

// compareAccess sends every case to MediaMTX's HLS server and to swarmtx
// and fails where one refuses (401) and the other does not.
func compareAccess(ctx context.Context, t *testing.T, s *stack, cases []accessCase) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	allowed, refused := 0, 0
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := clientFrom(c.source)
			q := ""
			if c.query != "" {
				q = "?" + c.query
			}
			m := status(ctx, client, fmt.Sprintf("http://%s:%d/%s/index.m3u8%s", harness.NetnsHost, s.mtx.HLSPort, c.path, q), c.user, c.pass)
			o := status(ctx, client, fmt.Sprintf("http://%s:%d/%s/index.m3u8%s", harness.NetnsHost, s.httpPort, c.path, q), c.user, c.pass)
			mu.Lock()
			defer mu.Unlock()
			if (m == http.StatusUnauthorized) != (o == http.StatusUnauthorized) {
				t.Errorf("%s (from %s, %s): MediaMTX answered %d, swarmtx %d", c.name, c.source, c.path, m, o)
			}
			if o == http.StatusUnauthorized {
				refused++
			} else {
				allowed++
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests: %d allowed, %d refused", len(cases), allowed, refused)
	if allowed == 0 || refused == 0 {
		t.Error("the matrix did not exercise both answers")
	}
}

// TestAccessHTTPAsMediaMTXDecides: with authMethod http, MediaMTX and
// swarmtx ask the same auth service (run by the test) and decide alike;
// the service sees swarmtx's requests as MediaMTX's (action read, protocol
// hls) and swarmtx caches its answers.
func TestAccessHTTPAsMediaMTXDecides(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var mu sync.Mutex
	calls := map[string]int{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	auth := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct{ IP, User, Password, Action, Path, Protocol string }
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		calls[b.Protocol+" "+b.Action]++
		mu.Unlock()
		switch {
		case b.Action == "publish", b.IP == "127.0.0.1" && b.Action == "read":
		case b.Action == "read" && b.User == "alice" && b.Password == "alicepw" && b.Path == "live/show":
		case b.Action == "read" && b.Path == "open/show":
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	})}
	go func() { _ = auth.Serve(ln) }()
	t.Cleanup(func() { _ = auth.Close() })
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", MediaMTX: map[string]any{
		"authMethod": "http", "authHTTPAddress": "http://" + ln.Addr().String() + "/auth"}})
	for _, path := range []string{"live/show", "open/show"} {
		s.publish(ctx, "rtmp", path, harness.PublishOptions{Size: "320x180"})
	}
	waitMultivariant(ctx, t, s.base()+"/live/show/index.m3u8", 1)
	waitMultivariant(ctx, t, s.base()+"/open/show/index.m3u8", 1)
	var cases []accessCase
	for _, src := range []string{harness.NetnsHost, harness.NetnsPeer} {
		for _, path := range []string{"live/show", "open/show"} {
			cases = append(cases,
				accessCase{name: "no credentials", path: path, source: src},
				accessCase{name: "alice", user: "alice", pass: "alicepw", path: path, source: src},
				accessCase{name: "alice, wrong password", user: "alice", pass: "x", path: path, source: src})
		}
	}
	compareAccess(ctx, t, s, cases)
	// A viewer's many requests cost few calls: ten playlist requests as
	// alice after the first are answered from the cache.
	mu.Lock()
	before := calls["hls read"]
	mu.Unlock()
	client := clientFrom(harness.NetnsPeer)
	for range 10 {
		status(ctx, client, fmt.Sprintf("http://%s:%d/live/show/index.m3u8", harness.NetnsHost, s.httpPort), "alice", "alicepw")
	}
	mu.Lock()
	after := calls["hls read"]
	mu.Unlock()
	if after-before > 1 {
		t.Errorf("10 requests of one viewer cost %d calls to the auth service", after-before)
	}
}

// TestAccessJWTAsMediaMTXDecides: with authMethod jwt and a JWKS the test
// serves, MediaMTX and swarmtx decide alike on tokens that are valid,
// expired, signed by another key or for another path, given in the query,
// as a bearer token or as the basic-auth password.
func TestAccessJWTAsMediaMTXDecides(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	s, key, tok := jwtStack(ctx, t)
	other := mustECKey(t)
	day := time.Now().Add(24 * time.Hour)
	show := []map[string]string{{"action": "read", "path": "live/show"}}
	tokens := map[string]string{
		"valid":        tok(key, show, day),
		"expired":      tok(key, show, time.Now().Add(-time.Minute)),
		"another key":  tok(other, show, day),
		"another path": tok(key, []map[string]string{{"action": "read", "path": "live/other"}}, day),
		"regex path":   tok(key, []map[string]string{{"action": "read", "path": "~^live/"}}, day),
		"publish only": tok(key, []map[string]string{{"action": "publish"}}, day),
	}
	var cases []accessCase
	cases = append(cases, accessCase{name: "no token", path: "live/show", source: harness.NetnsPeer})
	for name, tk := range tokens {
		cases = append(cases,
			accessCase{name: name + " in the query", query: "jwt=" + url.QueryEscape(tk), path: "live/show", source: harness.NetnsPeer},
			accessCase{name: name + " as password", user: "jwt", pass: tk, path: "live/show", source: harness.NetnsPeer})
	}
	compareAccess(ctx, t, s, cases)
	// The bearer form, on swarmtx alone (the basic-auth helper of the
	// matrix cannot set it): the valid token opens, the expired one not.
	for name, want := range map[string]bool{"valid": true, "expired": false} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d/live/show/index.m3u8", harness.NetnsHost, s.httpPort), nil)
		req.Header.Set("Authorization", "Bearer "+tokens[name])
		res, err := clientFrom(harness.NetnsPeer).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if (res.StatusCode != http.StatusUnauthorized) != want {
			t.Errorf("bearer %s token: %d", name, res.StatusCode)
		}
	}
}

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwtStack starts a stack with authMethod jwt and a JWKS of one key served
// by the test, publishes live/show and waits for it; tok signs a token
// with any key.
func jwtStack(ctx context.Context, t *testing.T) (*stack, *ecdsa.PrivateKey, func(k *ecdsa.PrivateKey, perms any, exp time.Time) string) {
	t.Helper()
	key := mustECKey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	jwks := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
		x, y := key.PublicKey.X.FillBytes(make([]byte, 32)), key.PublicKey.Y.FillBytes(make([]byte, 32))
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": "k1", "alg": "ES256", "use": "sig"}}})
	})}
	go func() { _ = jwks.Serve(ln) }()
	t.Cleanup(func() { _ = jwks.Close() })
	tok := func(k *ecdsa.PrivateKey, perms any, exp time.Time) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"exp": exp.Unix(), "mediamtx_permissions": perms})
		tk.Header["kid"] = "k1"
		s, err := tk.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	day := time.Now().Add(24 * time.Hour)
	// The plugin reads from MediaMTX with a token of its own.
	pull := tok(key, []map[string]string{{"action": "read"}}, day)
	s := startStack(t, stackOptions{AttachFlags: "--ladder source --read-user jwt --read-pass " + pull, MediaMTX: map[string]any{
		"authMethod": "jwt", "authJWTJWKS": "http://" + ln.Addr().String() + "/jwks",
		"authJWTExclude": []map[string]string{{"action": "publish"}}}})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "640x360"})
	waitMultivariant(ctx, t, fmt.Sprintf("%s/live/show/index.m3u8?jwt=%s", s.base(), pull), 1)
	return s, key, tok
}
