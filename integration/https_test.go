package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmtx/swarmtx/integration/harness"
	swarmcrowd "github.com/swarmtx/swarmtx/peerpool/crowd"
	"github.com/swarmtx/swarmtx/peerpool/peer"
)

// testCA is a certificate authority the test makes and its clients trust.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "swarmtx test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a server certificate for the test's addresses, with serial,
// and its key, to certFile and keyFile. The file holds the chain up to the
// CA, so a browser told to trust the CA's key finds it in what is served.
func (ca *testCA) issue(t testing.TB, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "swarmtx origin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(harness.NetnsHost)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	// The key first: a watcher that looks between the two writes sees a
	// pair that does not match, and keeps the old one.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serverTLS is a TLS server config with a fresh certificate from ca.
func (ca *testCA) serverTLS(t testing.TB) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "page.crt"), filepath.Join(dir, "page.key")
	ca.issue(t, 900, certFile, keyFile)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// clientTLS is a TLS client config that trusts ca.
func (ca *testCA) clientTLS() *tls.Config { return &tls.Config{RootCAs: ca.pool} }

// chromiumFlag makes Chromium trust certificates whose served chain holds
// the CA: Chromium matches the flag's key hashes against that chain.
func (ca *testCA) chromiumFlag() string {
	sum := sha256.Sum256(ca.cert.RawSubjectPublicKeyInfo)
	return "--ignore-certificate-errors-spki-list=" + base64.StdEncoding.EncodeToString(sum[:])
}

// originTLS is an HTTPS origin's certificate files, issued by a CA of the
// test's own, and a client that trusts that CA.
type originTLS struct {
	ca                *testCA
	certFile, keyFile string
	client            *http.Client
}

func newOriginTLS(t testing.TB, dir string) *originTLS {
	t.Helper()
	ca := newTestCA(t)
	o := &originTLS{ca: ca, certFile: filepath.Join(dir, "origin.crt"), keyFile: filepath.Join(dir, "origin.key"),
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: ca.clientTLS()}}}
	ca.issue(t, 100, o.certFile, o.keyFile)
	return o
}

// renew issues the origin a new certificate with serial and waits until
// new connections get it.
func (o *originTLS) renew(ctx context.Context, t *testing.T, addr string, serial int64) {
	t.Helper()
	if got := servedSerial(t, addr, o.ca.pool); got == serial {
		t.Fatalf("already serves certificate %d", serial)
	}
	o.ca.issue(t, serial, o.certFile, o.keyFile)
	waitUntil(ctx, t, "the renewed certificate is served", func() (bool, string) {
		got := servedSerial(t, addr, o.ca.pool)
		return got == serial, fmt.Sprintf("serial %d", got)
	})
}

// servedSerial is the serial of the certificate a new connection gets.
func servedSerial(t *testing.T, addr string, pool *x509.CertPool) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestOriginServesHTTPS: with tlsCert and tlsKey, the origin serves its
// playlists, media and the swarm's WebSocket over TLS; viewers that trust
// the certificate play through the swarm, and a renewed certificate is
// served to new connections while the viewers keep playing, none dropped.
func TestOriginServesHTTPS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", TLS: true})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "320x180"})
	base := s.browserBase()
	waitUntil(ctx, t, "the stream is served over HTTPS", func() (bool, string) {
		code, _, err := getWith(ctx, s.client(), base+"/live/show/index.m3u8")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, strconv.Itoa(code)
	})
	if code, _, err := get(ctx, strings.Replace(base, "https:", "http:", 1)+"/live/show/index.m3u8"); err == nil && code == http.StatusOK {
		t.Error("the HTTPS origin also answers plain HTTP")
	}

	const n = 4
	c, err := swarmcrowd.Start(ctx, swarmcrowd.Config{
		URL: base + "/live/show/", Viewers: n, HTTPClient: s.client(), API: peer.NewLoopbackAPI(),
		Mix: swarmcrowd.Mix{{Fraction: 1, Upload: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitUntil(ctx, t, "the crowd plays over HTTPS", func() (bool, string) {
		snap := c.Snapshot()
		return snap.Playing == n, snap.String()
	})

	addr := net.JoinHostPort(harness.NetnsHost, strconv.Itoa(s.httpPort))
	if got := servedSerial(t, addr, s.tls.ca.pool); got != 100 {
		t.Fatalf("serves certificate %d, want 100", got)
	}
	s.tls.renew(ctx, t, addr, 101)
	sleepCtx(ctx, t, 5*time.Second)
	checkCrowdShared(t, "crowd over HTTPS and WSS, across a certificate renewal", c.Snapshot(), n)
}

// testBrowsersPlayOverHTTPS: two Chromium players on an https:// page of
// another origin (its own certificate from the test's CA, which that
// Chromium trusts and nothing else) load the player from an HTTPS origin,
// play through the swarm over WSS, and keep playing through a certificate
// renewal: no stall beyond a part, the same swarm sessions before and after,
// and parts keep crossing between the players.
func testBrowsersPlayOverHTTPS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", TLS: true})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "320x180"})
	src := s.browserBase() + "/live/show/index.m3u8"
	waitUntil(ctx, t, "the stream is served over HTTPS", func() (bool, string) {
		code, _, err := getWith(ctx, s.client(), src)
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, strconv.Itoa(code)
	})

	b := startSwarmBrowser(ctx, t, s, "live/show", []string{src, src})
	addr := net.JoinHostPort(harness.NetnsHost, strconv.Itoa(s.httpPort))
	watchSecureSwarm(ctx, t, b, s.browserBase(), 8*time.Second, 15*time.Second, func() {
		s.tls.renew(ctx, t, addr, 101)
	})
}

// watchSecureSwarm checks players on an https:// page of another origin
// than origin: once each has joined the swarm over WSS with a neighbour in
// a secure context, they are watched for first, midway is called (nil: not),
// and they are watched for then. Each must keep playing with no more than a
// part of stall and no error, in the same swarm session throughout, and
// parts must keep coming from peers.
func watchSecureSwarm(ctx context.Context, t *testing.T, b *harness.Browser, origin string, first, then time.Duration, midway func()) {
	t.Helper()
	for _, p := range b.Players {
		if !strings.HasPrefix(p.URL, "https://") || strings.HasPrefix(p.URL, origin) {
			t.Fatalf("player page %s: want an https:// page of another origin than %s", p.URL, origin)
		}
		if err := p.WaitPlaying(ctx); err != nil {
			t.Fatalf("%v\nswarm log:\n%s", err, tail(swarmLog(b.Log()), 4000))
		}
	}
	// Each player's swarm session, as it is once its neighbour connected.
	start := make([]harness.PlayerReport, len(b.Players))
	before := make([]swarmStats, len(b.Players))
	for i, p := range b.Players {
		r, err := p.WaitFor(ctx, func(r harness.PlayerReport) bool {
			var st swarmStats
			return json.Unmarshal(r.Extra, &st) == nil && st.Joined && st.Peers > 0
		})
		if err != nil {
			t.Fatalf("player %d never joined the swarm with a neighbour over WSS: %v\nswarm log:\n%s", i, err, tail(swarmLog(b.Log()), 4000))
		}
		if !r.SecureContext {
			t.Errorf("player %d: the https:// page is not a secure context", i)
		}
		start[i] = r
		json.Unmarshal(r.Extra, &before[i])
	}
	began := time.Now()
	sleepCtx(ctx, t, first)
	var midwayAt time.Duration
	if midway != nil {
		midway()
		midwayAt = time.Since(began)
	}
	sleepCtx(ctx, t, then)
	elapsed := time.Since(began)

	var p2p int64
	for i, p := range b.Players {
		end, _ := p.Latest()
		var st swarmStats
		if err := json.Unmarshal(end.Extra, &st); err != nil {
			t.Fatalf("player %d: swarm stats: %v (%s)", i, err, end.Extra)
		}
		adv := end.CurrentTime - start[i].CurrentTime
		stallMs := end.StallMs - start[i].StallMs
		gotP2P := st.P2PBytes - before[i].P2PBytes
		p2p += gotP2P
		t.Logf("player %d (page %s): advanced %.1fs in %v (midway at %v), stalls %d (%.0f ms), lag %.0f ms, peers %d, P2P %d B since joined, uploaded %d B",
			i, strings.SplitN(p.URL, "/player", 2)[0], adv, elapsed.Round(time.Second), midwayAt.Round(time.Second),
			end.Stalls-start[i].Stalls, stallMs, end.LagMs, st.Peers, gotP2P, st.UploadBytes)
		if adv < elapsed.Seconds()-2 {
			t.Errorf("player %d: currentTime advanced %.1fs in %v", i, adv, elapsed.Round(time.Second))
		}
		if stallMs > float64(defaultPart/time.Millisecond) {
			t.Errorf("player %d: stalled %.0f ms, more than a part", i, stallMs)
		}
		if len(end.Errors) > 0 {
			t.Errorf("player %d: errors %q", i, end.Errors)
		}
		if st.ID != before[i].ID {
			t.Errorf("player %d: swarm session %s became %s: its WSS connection was dropped", i, before[i].ID, st.ID)
		}
		if st.HashMismatches > 0 || st.ProtocolErrors > 0 {
			t.Errorf("player %d: %d hash mismatches, %d protocol errors", i, st.HashMismatches, st.ProtocolErrors)
		}
	}
	if p2p == 0 {
		t.Errorf("no part reached either player from a peer after both joined over WSS")
	}
}
