package access

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksFor serves the public half of keys as a JWKS and counts fetches.
func jwksFor(t testing.TB, keys map[string]*ecdsa.PrivateKey) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range keys {
			b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
			x, y := k.PublicKey.X.FillBytes(make([]byte, 32)), k.PublicKey.Y.FillBytes(make([]byte, 32))
			set.Keys = append(set.Keys, map[string]string{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y), "kid": kid, "alg": "ES256", "use": "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return srv, &fetches
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign makes a token with perms under mediamtx_permissions, expiring at exp.
func sign(t testing.TB, k *ecdsa.PrivateKey, kid string, perms any, exp time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"exp": exp.Unix(), "mediamtx_permissions": perms})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWT: valid, expired, wrong key, wrong path, permissions as a string,
// the three places a token is taken from, exclusions, and a key rotated in
// after the JWKS was fetched.
func TestJWT(t *testing.T) {
	good, other := newKey(t), newKey(t)
	keys := map[string]*ecdsa.PrivateKey{"k1": good}
	srv, fetches := jwksFor(t, keys)
	j := &JWT{JWKS: srv.URL, ClaimKey: "mediamtx_permissions", InQuery: true, Exclude: []Permission{mustPerm(t, "metrics", "")}}
	read := []map[string]string{{"action": "read", "path": "live/show"}}
	hour := time.Now().Add(time.Hour)
	valid := sign(t, good, "k1", read, hour)
	ip := netip.MustParseAddr("10.77.0.2")
	req := func(c Credentials, query string) Request {
		return Request{Action: ActionRead, Path: "live/show", IP: ip, Credentials: c, Query: query}
	}
	for _, c := range []struct {
		name  string
		r     Request
		allow bool
	}{
		{"bearer", req(Credentials{Token: valid}, ""), true},
		{"basic-auth password", req(Credentials{User: "x", Pass: valid}, ""), true},
		{"query", req(Credentials{}, "jwt="+url.QueryEscape(valid)), true},
		{"no token", req(Credentials{}, ""), false},
		{"two tokens in the query", req(Credentials{}, "jwt="+valid+"&jwt="+valid), false},
		{"expired", req(Credentials{Token: sign(t, good, "k1", read, time.Now().Add(-time.Minute))}, ""), false},
		{"signed by another key", req(Credentials{Token: sign(t, other, "k1", read, hour)}, ""), false},
		{"another path", req(Credentials{Token: sign(t, good, "k1", []map[string]string{{"action": "read", "path": "other"}}, hour)}, ""), false},
		{"a regex path", req(Credentials{Token: sign(t, good, "k1", []map[string]string{{"action": "read", "path": "~^live/"}}, hour)}, ""), true},
		{"permissions as a string", req(Credentials{Token: sign(t, good, "k1", `[{"action":"read"}]`, hour)}, ""), true},
		{"publish only", req(Credentials{Token: sign(t, good, "k1", []map[string]string{{"action": "publish"}}, hour)}, ""), false},
		{"garbage", req(Credentials{Token: "not.a.jwt"}, ""), false},
		{"metrics excluded", Request{Action: ActionMetrics, IP: ip}, true},
	} {
		err := j.Check(context.Background(), c.r)
		if (err == nil) != c.allow {
			t.Errorf("%s: allowed %v, want %v (%v)", c.name, err == nil, c.allow, err)
		}
	}
	if exp := j.ExpiresAt(context.Background(), req(Credentials{Token: valid}, "")); exp.Unix() != hour.Unix() {
		t.Errorf("ExpiresAt = %v, want %v", exp, hour)
	}
	if n := fetches.Load(); n > 3 {
		t.Errorf("JWKS fetched %d times for 13 checks", n)
	}
	// A key rotated in: the JWKS is fetched again for the unknown kid
	// (once the retry interval allows; here it is moved back).
	keys["k2"] = other
	j.mu.Lock()
	j.fetchedAt = time.Now().Add(-2 * jwksRetry)
	j.mu.Unlock()
	if err := j.Check(context.Background(), req(Credentials{Token: sign(t, other, "k2", read, hour)}, "")); err != nil {
		t.Errorf("a token of a key rotated in: %v", err)
	}
}

// FuzzJWT feeds untrusted tokens: nothing panics, and nothing but a token
// signed by the JWKS's key is accepted.
func FuzzJWT(f *testing.F) {
	k := newKey(f)
	srv, _ := jwksFor(f, map[string]*ecdsa.PrivateKey{"k1": k})
	j := &JWT{JWKS: srv.URL, ClaimKey: "mediamtx_permissions"}
	f.Add(sign(f, k, "k1", []map[string]string{{"action": "read"}}, time.Now().Add(24*time.Hour)))
	f.Add("eyJhbGciOiJub25lIn0.eyJtZWRpYW10eF9wZXJtaXNzaW9ucyI6W3siYWN0aW9uIjoicmVhZCJ9XX0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		err := j.Check(context.Background(), Request{Action: ActionRead, Path: "live/show", Credentials: Credentials{Token: token}})
		if err == nil {
			if _, perr := jwt.Parse(token, func(*jwt.Token) (any, error) { return &k.PublicKey, nil }); perr != nil {
				t.Fatalf("accepted a token the key did not sign: %q", token)
			}
		}
	})
}
