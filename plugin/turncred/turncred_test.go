package turncred

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMintMatchesTheConvention(t *testing.T) {
	m, err := NewMinter("0123456789abcdef0123", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c := m.Mint("viewer:1", now)
	if c.Username != "1800003600:viewer_1" {
		t.Fatalf("username %q", c.Username)
	}
	// What coturn computes for static-auth-secret.
	mac := hmac.New(sha1.New, []byte("0123456789abcdef0123"))
	mac.Write([]byte(c.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); c.Password != want {
		t.Fatalf("password %q, want %q", c.Password, want)
	}
	pw, user, err := m.Password(c.Username, now.Add(59*time.Minute))
	if err != nil || pw != c.Password || user != "viewer_1" {
		t.Fatalf("Password = %q %q %v", pw, user, err)
	}
	if _, _, err := m.Password(c.Username, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired credential accepted: %v", err)
	}
	other, _ := NewMinter("another secret of enough length", time.Hour)
	if pw, _, _ := other.Password(c.Username, now); pw == c.Password {
		t.Fatal("another secret gives the same password")
	}
}

func TestNewMinterRefusesWeakSettings(t *testing.T) {
	if _, err := NewMinter("short", time.Hour); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := NewMinter("0123456789abcdef", time.Second); err == nil || !strings.Contains(err.Error(), "under a minute") {
		t.Fatalf("short lifetime: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"no colon":      "1800000000",
		"no user":       "1800000000:",
		"no expiry":     ":user",
		"leading zero":  "01800000000:user",
		"sign":          "+1800000000:user",
		"not a number":  "18e9:user",
		"too long":      strings.Repeat("1", 13) + ":user",
		"huge username": "1800000000:" + strings.Repeat("u", MaxUsernameLen),
	} {
		if _, _, err := Parse(in); err == nil {
			t.Errorf("%s: %q accepted", name, in)
		}
	}
	exp, user, err := Parse("1800000000:a:b")
	if err != nil || user != "a:b" || exp.Unix() != 1800000000 {
		t.Fatalf("Parse = %v %q %v", exp, user, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1800000000:abc", "1:x", "0:x", ":", "", "99999999999:" + strings.Repeat("z", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp, user, err := Parse(s)
		if err != nil {
			return
		}
		// One spelling per username: it prints back to itself.
		if got := strconv.FormatInt(exp.Unix(), 10) + ":" + user; got != s {
			t.Fatalf("Parse(%q) prints back as %q", s, got)
		}
	})
}
