package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

func newTestCA(t *testing.T) *testCA {
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
// and its key, to certFile and keyFile.
func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string) {
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
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
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
	ca := newTestCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "origin.crt"), filepath.Join(dir, "origin.key")
	ca.issue(t, 100, certFile, keyFile)
	s := startStack(t, stackOptions{AttachFlags: "--ladder source", Config: fmt.Sprintf("tlsCert: %s\ntlsKey: %s\n", certFile, keyFile)})
	s.publish(ctx, "rtmp", "live/show", harness.PublishOptions{Size: "320x180"})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	base := "https://" + harness.NetnsHost + ":" + strconv.Itoa(s.httpPort)
	waitUntil(ctx, t, "the stream is served over HTTPS", func() (bool, string) {
		resp, err := client.Get(base + "/live/show/index.m3u8")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if resp, err := http.Get("http://" + harness.NetnsHost + ":" + strconv.Itoa(s.httpPort) + "/live/show/index.m3u8"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the HTTPS origin also answers plain HTTP")
		}
	}

	const n = 4
	c, err := swarmcrowd.Start(ctx, swarmcrowd.Config{
		URL: base + "/live/show/", Viewers: n, HTTPClient: client, API: peer.NewLoopbackAPI(),
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
	if got := servedSerial(t, addr, ca.pool); got != 100 {
		t.Fatalf("serves certificate %d, want 100", got)
	}
	ca.issue(t, 101, certFile, keyFile)
	waitUntil(ctx, t, "the renewed certificate is served", func() (bool, string) {
		got := servedSerial(t, addr, ca.pool)
		return got == 101, fmt.Sprintf("serial %d", got)
	})
	sleepCtx(ctx, t, 5*time.Second)
	checkCrowdShared(t, "crowd over HTTPS and WSS, across a certificate renewal", c.Snapshot(), n)
}
