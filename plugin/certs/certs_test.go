package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for name and its key.
func writePair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func servedName(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil {
		t.Fatalf("GetCertificate: %v, %v", c, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestReloaderFollowsTheFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "one.example")
	r, err := Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := servedName(t, r); got != "one.example" {
		t.Fatalf("serves %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 10*time.Millisecond)

	// Half a renewal (a new certificate, the old key) is not a pair: the
	// old one stays.
	other := t.TempDir()
	newCert, newKey := writePair(t, other, "two.example")
	b, _ := os.ReadFile(newCert)
	os.WriteFile(certFile, b, 0o600)
	time.Sleep(50 * time.Millisecond)
	if got := servedName(t, r); got != "one.example" {
		t.Fatalf("a half-written renewal is served: %q", got)
	}
	b, _ = os.ReadFile(newKey)
	os.WriteFile(keyFile, b, 0o600)
	deadline := time.Now().Add(2 * time.Second)
	for servedName(t, r) != "two.example" {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLoadNamesWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "one.example")
	if _, err := Load(filepath.Join(dir, "missing.pem"), keyFile, nil); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing certificate: %v", err)
	}
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if _, err := Load(certFile, keyFile, nil); err == nil || !strings.Contains(err.Error(), "key.pem") {
		t.Errorf("bad key: %v", err)
	}
}
