package access

import (
	"errors"
	"fmt"
	"net/netip"
)

// Settings are mediamtx.yml's auth keys (plugin/mtxconf reads them).
type Settings struct {
	Method        string // authMethod: internal, http or jwt
	InternalUsers []User // authInternalUsers
	HTTPAddress   string // authHTTPAddress
	HTTPExclude   []Permission
	// JWTJWKS, JWTClaimKey, JWTExclude and JWTInHTTPQuery are authJWTJWKS,
	// authJWTClaimKey, authJWTExclude and authJWTInHTTPQuery.
	JWTJWKS        string
	JWTClaimKey    string
	JWTExclude     []Permission
	JWTInHTTPQuery bool
	// TrustedProxies is hlsTrustedProxies: only a request from one of
	// these is taken to come from its X-Forwarded-For address.
	TrustedProxies []netip.Prefix
}

// Default is MediaMTX's: authMethod internal, anyone may read any path
// (and publish and play back), and metrics, the API and pprof are open to
// this host only.
func Default() Settings {
	return Settings{
		Method: "internal",
		InternalUsers: []User{
			{User: "any", Permissions: []Permission{{Action: "publish"}, {Action: ActionRead}, {Action: "playback"}}},
			{User: "any", IPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
				Permissions: []Permission{{Action: "api"}, {Action: ActionMetrics}, {Action: "pprof"}}},
		},
		HTTPExclude:    []Permission{{Action: "api"}, {Action: ActionMetrics}, {Action: "pprof"}},
		JWTClaimKey:    "mediamtx_permissions",
		JWTInHTTPQuery: true,
	}
}

// New returns the Checker for s.
func New(s Settings) (Checker, error) {
	switch s.Method {
	case "", "internal":
		return &Internal{Users: s.InternalUsers}, nil
	case "http":
		if s.HTTPAddress == "" {
			return nil, errors.New("authMethod http needs authHTTPAddress")
		}
		return &HTTP{Address: s.HTTPAddress, Exclude: s.HTTPExclude}, nil
	case "jwt":
		if s.JWTJWKS == "" {
			return nil, errors.New("authMethod jwt needs authJWTJWKS")
		}
		if s.JWTClaimKey == "" {
			return nil, errors.New("authMethod jwt needs authJWTClaimKey")
		}
		return &JWT{JWKS: s.JWTJWKS, ClaimKey: s.JWTClaimKey, Exclude: s.JWTExclude, InQuery: s.JWTInHTTPQuery}, nil
	default:
		return nil, fmt.Errorf("authMethod %q is not internal, http or jwt", s.Method)
	}
}
