package access

import (
	"context"
	"crypto/ecdsa"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/matthewhartstonge/argon2"
)

// BenchmarkCheck is what deciding one request costs, per method: a viewer
// makes several a second (playlists and parts).
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.77.0.2")
	req := Request{Action: ActionRead, Path: "live/show", IP: ip, Credentials: Credentials{User: "alice", Pass: "alicepw"}}
	cfg := argon2.DefaultConfig()
	enc, err := cfg.HashEncoded([]byte("alicepw"))
	if err != nil {
		b.Fatal(err)
	}
	read := []Permission{mustPerm(b, "read", "live/show")}
	for _, c := range []struct {
		name string
		pass string
	}{{"internal-plain", "alicepw"}, {"internal-sha256", sha("alicepw")}, {"internal-argon2", "argon2:" + string(enc)}} {
		in := &Internal{Users: []User{{User: "alice", Pass: mustCred(b, c.pass), Permissions: read}}}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := in.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	h := &HTTP{Address: srv.URL}
	b.Run("http-cached", func(b *testing.B) {
		for b.Loop() {
			if err := h.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	k := newKey(b)
	jwks, _ := jwksFor(b, map[string]*ecdsa.PrivateKey{"k1": k})
	j := &JWT{JWKS: jwks.URL, ClaimKey: "mediamtx_permissions"}
	tok := sign(b, k, "k1", []map[string]string{{"action": "read"}}, time.Now().Add(time.Hour))
	jreq := Request{Action: ActionRead, Path: "live/show", IP: ip, Credentials: Credentials{Token: tok}}
	b.Run("jwt", func(b *testing.B) {
		for b.Loop() {
			if err := j.Check(ctx, jreq); err != nil {
				b.Fatal(err)
			}
		}
	})
}
