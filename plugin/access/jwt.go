package access

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// JWT is authMethod jwt: a request not excluded needs a JSON Web Token
// signed by a key of the JWKS at JWKS, whose claim ClaimKey lists
// permissions that allow it, and which has not expired. The token is taken
// as MediaMTX takes it: from "Authorization: Bearer", else from the basic
// auth password, else (InQuery) from the query's one jwt parameter.
type JWT struct {
	JWKS     string
	ClaimKey string
	Exclude  []Permission
	InQuery  bool
	Client   *http.Client // nil: a client with a 5 s timeout

	mu        sync.Mutex
	keys      keyfunc.Keyfunc
	fetchedAt time.Time
	// Verifying a signature costs a tenth of a millisecond and a viewer
	// presents its token several times a second: a verified token's
	// permissions are remembered until it expires, at most tokenRemember.
	verified map[[32]byte]verifiedToken
}

type verifiedToken struct {
	perms   []Permission
	until   time.Time // remembered until then
	expires time.Time // the token's exp (zero: none)
}

const (
	tokenRemember   = 10 * time.Minute
	maxTokenEntries = 4096
)

// jwksRefresh is how long a fetched JWKS is used before it is fetched
// again; jwksRetry how soon a token signed by an unknown key may make it
// fetch again (a key rotated in).
const (
	jwksRefresh = time.Hour
	jwksRetry   = time.Minute
)

// Open implements Opener: authJWTExclude lets r through with no token.
func (j *JWT) Open(r Request) bool { return matches(j.Exclude, r) }

// Check implements Checker.
func (j *JWT) Check(ctx context.Context, r Request) error {
	if matches(j.Exclude, r) {
		return nil
	}
	token, err := j.token(r)
	if err != nil {
		return &Denied{Reason: err, AskCredentials: r.Credentials.empty()}
	}
	perms, err := j.verify(ctx, token)
	if err != nil {
		return &Denied{Reason: err}
	}
	if !matches(perms, r) {
		return &Denied{Reason: errors.New("the token's permissions do not allow this")}
	}
	return nil
}

func (j *JWT) token(r Request) (string, error) {
	switch {
	case r.Token != "":
		return r.Token, nil
	case r.Pass != "":
		return r.Pass, nil
	case j.InQuery:
		v, err := url.ParseQuery(r.Query)
		if err != nil {
			return "", fmt.Errorf("query: %w", err)
		}
		if len(v["jwt"]) != 1 || v["jwt"][0] == "" {
			return "", errors.New("no JWT given")
		}
		return v["jwt"][0], nil
	}
	return "", errors.New("no JWT given")
}

// ExpiresAt implements Expirer: when the token r carries expires.
func (j *JWT) ExpiresAt(ctx context.Context, r Request) time.Time {
	token, err := j.token(r)
	if err != nil {
		return time.Time{}
	}
	v, err := j.verifyCached(ctx, token)
	if err != nil {
		return time.Time{}
	}
	return v.expires
}

func (j *JWT) verify(ctx context.Context, token string) ([]Permission, error) {
	v, err := j.verifyCached(ctx, token)
	return v.perms, err
}

// verifyCached verifies a token, or finds it verified already.
func (j *JWT) verifyCached(ctx context.Context, token string) (verifiedToken, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	j.mu.Lock()
	v, ok := j.verified[key]
	j.mu.Unlock()
	if ok && now.Before(v.until) {
		return v, nil
	}
	perms, exp, err := j.parse(ctx, token)
	if err != nil {
		return verifiedToken{}, err
	}
	until := now.Add(tokenRemember)
	if !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	v = verifiedToken{perms: perms, until: until, expires: exp}
	j.mu.Lock()
	if j.verified == nil || len(j.verified) >= maxTokenEntries {
		j.verified = make(map[[32]byte]verifiedToken)
	}
	j.verified[key] = v
	j.mu.Unlock()
	return v, nil
}

// parse verifies a token's signature and expiry and reads its permissions.
func (j *JWT) parse(ctx context.Context, token string) ([]Permission, time.Time, error) {
	keys, err := j.keyfunc(ctx, false)
	if err != nil {
		return nil, time.Time{}, err
	}
	var c claims
	c.key = j.ClaimKey
	_, err = jwt.ParseWithClaims(token, &c, keys.Keyfunc)
	if errors.Is(err, keyfunc.ErrKeyfunc) {
		// Perhaps a key rotated in since the last fetch.
		if keys, err2 := j.keyfunc(ctx, true); err2 == nil {
			c = claims{key: j.ClaimKey}
			_, err = jwt.ParseWithClaims(token, &c, keys.Keyfunc)
		}
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("JWT: %w", err)
	}
	var exp time.Time
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	return c.perms, exp, nil
}

// keyfunc returns the JWKS's keys, fetching them when they are older than
// jwksRefresh, or, with stale, older than jwksRetry.
func (j *JWT) keyfunc(ctx context.Context, stale bool) (keyfunc.Keyfunc, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	age := time.Since(j.fetchedAt)
	if j.keys != nil && age < jwksRefresh && (!stale || age < jwksRetry) {
		return j.keys, nil
	}
	client := j.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.JWKS, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", j.JWKS, err)
	}
	res, err := client.Do(req)
	if err != nil {
		if j.keys != nil {
			return j.keys, nil // keep the keys known rather than refuse everyone
		}
		return nil, fmt.Errorf("JWKS %s: %w", j.JWKS, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS %s: status %d", j.JWKS, res.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", j.JWKS, err)
	}
	keys, err := keyfunc.NewJWKSetJSON(json.RawMessage(raw))
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", j.JWKS, err)
	}
	j.keys, j.fetchedAt = keys, time.Now()
	return keys, nil
}

// claims are a token's registered claims and its permissions, read from
// the claim key as a list, or as a string holding the list, as MediaMTX
// reads them.
type claims struct {
	jwt.RegisteredClaims
	key   string
	perms []Permission
}

func (c *claims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.RegisteredClaims); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	raw, ok := all[c.key]
	if !ok {
		return fmt.Errorf("claim %q not found in the JWT", c.key)
	}
	var list []struct {
		Action string `json:"action"`
		Path   string `json:"path"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		var s string
		if err2 := json.Unmarshal(raw, &s); err2 != nil {
			return fmt.Errorf("claim %q: %w", c.key, err)
		}
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			return fmt.Errorf("claim %q: %w", c.key, err)
		}
	}
	c.perms = c.perms[:0]
	for _, p := range list {
		perm, err := NewPermission(p.Action, p.Path)
		if err != nil {
			return fmt.Errorf("claim %q: %w", c.key, err)
		}
		c.perms = append(c.perms, perm)
	}
	return nil
}
