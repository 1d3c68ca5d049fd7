// Package turncred mints and checks the time-limited TURN credentials of
// the TURN REST API convention, as coturn's use-auth-secret and MediaMTX's
// "username: AUTH_SECRET" use them: the username is "<expiry unix
// seconds>:<user>" and the password is base64(HMAC-SHA1(secret, username)).
// A viewer gets a credential of its own at join, so a browser never holds a
// password that outlives its session or works for anyone else.
package turncred

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the convention's MAC; HMAC-SHA1 is not broken as a MAC
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinSecretLen bounds how short a shared secret may be: a guessable secret
// would let anyone mint credentials for the relay.
const MinSecretLen = 16

// MaxUsernameLen bounds the usernames Parse accepts (STUN limits USERNAME to
// 513 bytes; ours are far shorter).
const MaxUsernameLen = 256

// Credential is a TURN username and password.
type Credential struct {
	Username string
	Password string
}

// Minter mints credentials from one shared secret.
type Minter struct {
	secret   []byte
	lifetime time.Duration
}

// NewMinter returns a Minter whose credentials last lifetime.
func NewMinter(secret string, lifetime time.Duration) (*Minter, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("TURN shared secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	if lifetime < time.Minute {
		return nil, fmt.Errorf("TURN credential lifetime %s is under a minute", lifetime)
	}
	return &Minter{secret: []byte(secret), lifetime: lifetime}, nil
}

// Mint returns a credential for user valid until now plus the lifetime.
// user must not contain ':' (the convention's separator).
func (m *Minter) Mint(user string, now time.Time) Credential {
	user = strings.ReplaceAll(user, ":", "_")
	name := strconv.FormatInt(now.Add(m.lifetime).Unix(), 10) + ":" + user
	return Credential{Username: name, Password: m.password(name)}
}

// Password returns the password of username under this secret, after
// checking that username is well formed and not expired at now; user is
// the part after the expiry.
func (m *Minter) Password(username string, now time.Time) (password, user string, err error) {
	expiry, user, err := Parse(username)
	if err != nil {
		return "", "", err
	}
	if !now.Before(expiry) {
		return "", "", fmt.Errorf("TURN username %q expired at %s", username, expiry.UTC().Format(time.RFC3339))
	}
	return m.password(username), user, nil
}

func (m *Minter) password(username string) string {
	mac := hmac.New(sha1.New, m.secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var errEmptyUser = errors.New("no user after the expiry")

// Parse splits a REST API username into its expiry and user. The expiry is
// decimal Unix seconds with no sign and no leading zero, so each instant
// has one spelling.
func Parse(username string) (expiry time.Time, user string, err error) {
	if len(username) > MaxUsernameLen {
		return time.Time{}, "", fmt.Errorf("TURN username is %d bytes, more than %d", len(username), MaxUsernameLen)
	}
	ts, user, ok := strings.Cut(username, ":")
	if !ok {
		return time.Time{}, "", fmt.Errorf("TURN username %q is not <expiry>:<user>", short(username))
	}
	if user == "" {
		return time.Time{}, "", fmt.Errorf("TURN username %q: %w", short(username), errEmptyUser)
	}
	if ts == "" || len(ts) > 12 || ts[0] == '0' || strings.Trim(ts, "0123456789") != "" {
		return time.Time{}, "", fmt.Errorf("TURN username %q: expiry %q is not Unix seconds", short(username), short(ts))
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("TURN username %q: expiry: %w", short(username), err)
	}
	return time.Unix(secs, 0), user, nil
}

func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
