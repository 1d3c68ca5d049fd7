package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/matthewhartstonge/argon2"
)

// User is one entry of authInternalUsers.
type User struct {
	User        Credential
	Pass        Credential
	IPs         []netip.Prefix // empty: any address
	Permissions []Permission
}

// Credential is a user name or password as mediamtx.yml gives it: plain,
// "sha256:" and the base64 of the SHA-256 of the secret, or "argon2:" and
// an encoded Argon2 hash. An empty one matches anything.
type Credential string

// The characters MediaMTX accepts in a plain credential and a sha256 one.
var (
	plainCredential  = regexp.MustCompile(`^[a-zA-Z0-9!\$\(\)\*\+\.;<=>\[\]\^_\-\{\}@#&]+$`)
	sha256Credential = regexp.MustCompile(`^sha256:[a-zA-Z0-9\+/=]+$`)
)

// NewCredential checks a credential as MediaMTX checks it when it loads
// mediamtx.yml, so a file MediaMTX accepts is accepted here.
func NewCredential(s string) (Credential, error) {
	switch {
	case s == "":
	case strings.HasPrefix(s, "sha256:"):
		if !sha256Credential.MatchString(s) {
			return "", fmt.Errorf("sha256 credential is not base64")
		}
	case strings.HasPrefix(s, "argon2:"):
		if _, err := argon2.Decode([]byte(s[len("argon2:"):])); err != nil {
			return "", fmt.Errorf("argon2 credential: %w", err)
		}
	default:
		if !plainCredential.MatchString(s) {
			return "", fmt.Errorf("credential has characters MediaMTX does not accept")
		}
	}
	return Credential(s), nil
}

// Check reports whether guess matches the credential.
func (c Credential) Check(guess string) bool {
	s := string(c)
	switch {
	case strings.HasPrefix(s, "sha256:"):
		sum := sha256.Sum256([]byte(guess))
		return subtle.ConstantTimeCompare([]byte(s[len("sha256:"):]), []byte(base64.StdEncoding.EncodeToString(sum[:]))) == 1
	case strings.HasPrefix(s, "argon2:"):
		ok, err := argon2.VerifyEncoded([]byte(guess), []byte(s[len("argon2:"):]))
		return ok && err == nil
	case s == "":
		return true
	default:
		return subtle.ConstantTimeCompare([]byte(s), []byte(guess)) == 1
	}
}

// Internal is authMethod internal: the first user whose addresses,
// permissions and credentials all match allows the request. The user
// "any" needs no credentials.
type Internal struct {
	Users []User

	// Verifying an argon2 password costs about a tenth of a second of CPU
	// by design, and a viewer makes several requests a second: a password
	// once verified is remembered for argon2Remember (by a hash of the
	// stored credential and the guess, never the guess itself).
	mu       sync.Mutex
	verified map[[32]byte]time.Time
}

const (
	argon2Remember   = 10 * time.Minute
	maxArgon2Entries = 4096
)

var argon2Slots = make(chan struct{}, 2)

// Check implements Checker.
func (in *Internal) Check(_ context.Context, r Request) error {
	for i := range in.Users {
		if in.allows(&in.Users[i], r) {
			return nil
		}
	}
	return &Denied{Reason: errNoMatch, AskCredentials: r.Credentials.empty()}
}

// Open implements Opener: the user "any", from any address, is allowed r.
func (in *Internal) Open(r Request) bool {
	for i := range in.Users {
		u := &in.Users[i]
		if u.User == "any" && len(u.IPs) == 0 && matches(u.Permissions, r) {
			return true
		}
	}
	return false
}

func (in *Internal) allows(u *User, r Request) bool {
	if len(u.IPs) > 0 && !contains(u.IPs, r.IP) {
		return false
	}
	if !matches(u.Permissions, r) {
		return false
	}
	if u.User == "any" {
		return true
	}
	return in.check(u.User, r.User) && in.check(u.Pass, r.Pass)
}

// check is c.Check(guess), remembering argon2 successes.
func (in *Internal) check(c Credential, guess string) bool {
	if !strings.HasPrefix(string(c), "argon2:") {
		return c.Check(guess)
	}
	key := sha256.Sum256([]byte(string(c) + "\x00" + guess))
	now := time.Now()
	in.mu.Lock()
	at, ok := in.verified[key]
	in.mu.Unlock()
	if ok && now.Sub(at) < argon2Remember {
		return true
	}
	// At most two verifications at once: a flood of wrong passwords costs
	// the server two cores' worth at most, not one per connection.
	argon2Slots <- struct{}{}
	good := c.Check(guess)
	<-argon2Slots
	if !good {
		return false
	}
	in.mu.Lock()
	if in.verified == nil || len(in.verified) >= maxArgon2Entries {
		in.verified = make(map[[32]byte]time.Time)
	}
	in.verified[key] = now
	in.mu.Unlock()
	return true
}

func contains(nets []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
