// Package access decides who may read what from swarmtx's origin, as
// MediaMTX decides it from the same settings of mediamtx.yml (authMethod
// and the authInternalUsers, authHTTP* and authJWT* keys): a stream
// MediaMTX protects stays protected through swarmtx. Every door of the origin asks
// it: playlists, media, the player page and the swarm of a path (action
// "read", protocol "hls"), and /metrics (action "metrics").
package access

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Action is what a request wants to do, in MediaMTX's terms.
type Action string

// The actions swarmtx's doors ask for. MediaMTX knows others (publish,
// playback, api, pprof); permissions for them are kept and never match a
// swarmtx request.
const (
	ActionRead    Action = "read"
	ActionMetrics Action = "metrics"
)

// pathActions are the actions whose permissions name a path.
var pathActions = map[Action]bool{"publish": true, ActionRead: true, "playback": true}

// Request is one access to decide.
type Request struct {
	Action Action
	Path   string // the stream path, for ActionRead
	Query  string // the request's raw query, as MediaMTX passes it on
	IP     netip.Addr
	Credentials
}

// Credentials are what the client presented: a user and password, or a
// token (a JWT).
type Credentials struct {
	User, Pass, Token string
}

func (c Credentials) empty() bool { return c.User == "" && c.Pass == "" && c.Token == "" }

// Denied is the error of a refused request. AskCredentials tells that the
// client presented none, so the answer should ask for them (401 with
// WWW-Authenticate), as MediaMTX's HLS server does.
type Denied struct {
	Reason         error
	AskCredentials bool
}

func (d *Denied) Error() string { return "access denied: " + d.Reason.Error() }
func (d *Denied) Unwrap() error { return d.Reason }

// Checker decides requests. Check returns nil when the request is allowed,
// a *Denied when it is refused, and another error when it cannot decide
// (an auth service that does not answer): the door refuses then too.
type Checker interface {
	Check(ctx context.Context, r Request) error
}

// Opener is a Checker that can tell when a request is allowed to anyone:
// no credentials asked and no address restriction. Only what is open to
// anyone may be stored by shared caches (a CDN) and served to others.
type Opener interface {
	Open(r Request) bool
}

// Expirer is a Checker whose grants run out: ExpiresAt tells when what
// allows r (a token) expires; zero when it does not, or r is not allowed.
type Expirer interface {
	ExpiresAt(ctx context.Context, r Request) time.Time
}

// Permission is one entry of a user's permissions, or of an exclude list:
// an action and, for publish, read and playback, a path ("" any path, "~"
// followed by a regular expression, or an exact path).
type Permission struct {
	Action Action
	Path   string
	re     *regexp.Regexp
}

// NewPermission checks a permission as mediamtx.yml gives it.
func NewPermission(action, path string) (Permission, error) {
	p := Permission{Action: Action(action), Path: path}
	switch p.Action {
	case "publish", ActionRead, "playback", "api", ActionMetrics, "pprof":
	default:
		return Permission{}, fmt.Errorf("action %q is not one of publish, read, playback, api, metrics, pprof", action)
	}
	if re, ok := strings.CutPrefix(path, "~"); ok {
		// MediaMTX treats a regular expression that does not compile as
		// one that matches nothing; refusing it here says so at once.
		c, err := regexp.Compile(re)
		if err != nil {
			return Permission{}, fmt.Errorf("path %q: %w", path, err)
		}
		p.re = c
	}
	return p, nil
}

// matches reports whether any of perms allows r.
func matches(perms []Permission, r Request) bool {
	for _, p := range perms {
		if p.Action != r.Action {
			continue
		}
		if !pathActions[p.Action] {
			return true
		}
		switch {
		case p.Path == "":
			return true
		case p.re != nil:
			if p.re.MatchString(r.Path) {
				return true
			}
		case p.Path == r.Path:
			return true
		}
	}
	return false
}

// errNoMatch is the reason when no user, exclusion or token allows a
// request.
var errNoMatch = errors.New("no user with the credentials given may do this")
