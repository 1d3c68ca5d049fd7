package access

import (
	"strings"
	"testing"
	"time"
)

func TestURLSigner(t *testing.T) {
	s, err := NewURLSigner(5 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	sig := s.Sign("live/show", now)
	if err := s.Verify("live/show", sig, now); err != nil {
		t.Fatalf("fresh signature refused: %v", err)
	}
	// Everyone in a window gets the same URL, so a CDN caches it once.
	if again := s.Sign("live/show", now.Add(time.Second)); again != sig && now.Unix()%300 != 299 {
		t.Errorf("signatures a second apart differ: %q, %q", sig, again)
	}
	// It lasts at least one window and at most two.
	if err := s.Verify("live/show", sig, now.Add(5*time.Minute-time.Second)); err != nil {
		t.Errorf("refused within its window: %v", err)
	}
	if err := s.Verify("live/show", sig, now.Add(10*time.Minute)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("two windows later: %v, want expired", err)
	}
	other, _ := NewURLSigner(5 * time.Minute)
	exp, mac, _ := strings.Cut(sig, ".")
	for name, c := range map[string]struct{ path, sig, want string }{
		"other stream": {"live/other", sig, "does not match"},
		"later expiry": {"live/show", "zzzzzz." + mac, "does not match"},
		"tampered mac": {"live/show", exp + "." + strings.Repeat("A", len(mac)), "does not match"},
		"no expiry":    {"live/show", mac, "no expiry"},
		"bad expiry":   {"live/show", "!!." + mac, "not a base-36"},
		"too long":     {"live/show", strings.Repeat("a", 100), "longer than"},
		"another key":  {"live/show", other.Sign("live/show", now), "does not match"},
		"empty":        {"live/show", "", "no expiry"},
	} {
		if err := s.Verify(c.path, c.sig, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	if _, err := NewURLSigner(0); err == nil {
		t.Error("a zero window was accepted")
	}
}

func FuzzURLSignerVerify(f *testing.F) {
	s, err := NewURLSigner(time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Add("live/show", s.Sign("live/show", now))
	f.Add("live/show", "1.x")
	f.Fuzz(func(t *testing.T, path, sig string) {
		if s.Verify(path, sig, now) == nil && sig != s.Sign(path, now) && sig != s.Sign(path, now.Add(-time.Minute)) {
			t.Fatalf("accepted %q for %q, which this signer did not make", sig, path)
		}
	})
}
