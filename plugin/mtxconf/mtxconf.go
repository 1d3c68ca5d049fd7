// Package mtxconf reads the few settings swarmtx needs from MediaMTX's own
// mediamtx.yml, so nothing is configured twice. The file has many keys that
// swarmtx does not care about; they are ignored. Only the keys read here are
// checked, and errors name the file and the key.
package mtxconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/swarmtx/swarmtx/plugin/access"
)

// MaxFileSize bounds the mediamtx.yml read by Load.
const MaxFileSize = 4 << 20

// Encryption values of rtspEncryption and rtmpEncryption.
const (
	EncryptionNo       = "no"
	EncryptionOptional = "optional"
	EncryptionStrict   = "strict"
)

// Config is what swarmtx takes from mediamtx.yml. The zero value is not
// useful; start from Default().
type Config struct {
	// File is the file it was read from ("" for defaults), for messages.
	File string
	// RTSP is the `rtsp` key (default true; also false when the legacy
	// `rtspDisable` is true). swarmtx reads streams over RTSP when it is on.
	RTSP bool
	// RTSPAddress is `rtspAddress` (default ":8554").
	RTSPAddress string
	// RTSPSAddress is `rtspsAddress` (default ":8322").
	RTSPSAddress string
	// RTSPEncryption is `rtspEncryption`: no, optional or strict (default no).
	RTSPEncryption string
	// RTMP is the `rtmp` key (default true; also false when the legacy
	// `rtmpDisable` is true).
	RTMP bool
	// RTMPAddress is `rtmpAddress` (default ":1935").
	RTMPAddress string
	// RTMPSAddress is `rtmpsAddress` (default ":1936").
	RTMPSAddress string
	// RTMPEncryption is `rtmpEncryption`: no, optional or strict (default no).
	RTMPEncryption string
	// HLS is the `hls` key (default true) and HLSAddress `hlsAddress`
	// (default ":8888"). Not used yet.
	HLS        bool
	HLSAddress string
	// HLSEncryption is `hlsEncryption` (default false); HLSServerCert and
	// HLSServerKey are `hlsServerCert` and `hlsServerKey` (default
	// server.crt and server.key), resolved against the directory of the
	// file they were read from. swarmtx serves its origin with them when
	// it has no certificate of its own.
	HLSEncryption               bool
	HLSServerCert, HLSServerKey string
	// AuthMethod is `authMethod` (default "internal"). swarmtx does not pick
	// credentials from authInternalUsers; give them with ReadUser/ReadPass.
	AuthMethod string
	// Access is how MediaMTX decides who may read: authMethod,
	// authInternalUsers, authHTTPAddress, authHTTPExclude and
	// hlsTrustedProxies. swarmtx's origin decides the same way.
	Access access.Settings
	// WebRTC is what MediaMTX's WebRTC server knows of ICE servers and the
	// host's public addresses; swarmtx's peers use it unless its own
	// config says otherwise.
	WebRTC WebRTC
	// ReadUser and ReadPass are credentials for reading streams (from
	// `swarmtx attach --read-user/--read-pass`), sent as MediaMTX expects on
	// RTMP: as the query parameters user and pass.
	ReadUser, ReadPass string
}

// Default returns MediaMTX's defaults for the keys swarmtx reads.
func Default() Config {
	return Config{
		RTSP: true, RTSPAddress: ":8554", RTSPSAddress: ":8322", RTSPEncryption: EncryptionNo,
		RTMP: true, RTMPAddress: ":1935", RTMPSAddress: ":1936", RTMPEncryption: EncryptionNo,
		HLS: true, HLSAddress: ":8888", AuthMethod: "internal",
		HLSServerCert: "server.crt", HLSServerKey: "server.key",
		Access: access.Default(),
		WebRTC: WebRTC{IPsFromInterfaces: true},
	}
}

// SearchPath is where MediaMTX itself looks for its config, in order.
var SearchPath = []string{"mediamtx.yml", "/usr/local/etc/mediamtx.yml", "/usr/etc/mediamtx.yml", "/etc/mediamtx/mediamtx.yml"}

// Find returns the first file of SearchPath that exists, or "".
func Find() string {
	for _, p := range SearchPath {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Load reads mediamtx.yml at path. An empty path gives Default().
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("mediamtx config %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("mediamtx config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("mediamtx config %s: larger than %d bytes", path, MaxFileSize)
	}
	c, err := Parse(data, path)
	if err != nil {
		return c, err
	}
	// MediaMTX opens them from its working directory, which is where its
	// configuration lives when it runs as documented; swarmtx runs in /.
	for _, f := range []*string{&c.HLSServerCert, &c.HLSServerKey} {
		if !filepath.IsAbs(*f) {
			*f = filepath.Join(filepath.Dir(path), *f)
		}
	}
	return c, nil
}

// Parse reads the keys swarmtx needs from mediamtx.yml content; name is the
// file name used in errors.
func Parse(data []byte, name string) (Config, error) {
	c := Default()
	c.File = name
	if name == "" {
		name = "mediamtx.yml"
	}
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("mediamtx config %s: %s", name, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail("%v", err)
	}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return c, nil
	}
	if root.Kind != yaml.MappingNode {
		return fail("top level is not a mapping of keys")
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		keys[root.Content[i].Value] = root.Content[i+1]
	}
	var err error
	boolKey := func(key string, dst *bool) {
		if n, ok := keys[key]; ok && err == nil {
			var v bool
			if v, err = asBool(n); err != nil {
				err = fmt.Errorf("mediamtx config %s: key %s (line %d): %v", name, key, n.Line, err)
				return
			}
			*dst = v
		}
	}
	strKey := func(key string, dst *string) {
		if n, ok := keys[key]; ok && err == nil {
			if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
				err = fmt.Errorf("mediamtx config %s: key %s (line %d): want a string", name, key, n.Line)
				return
			}
			*dst = n.Value
		}
	}
	boolKey("rtsp", &c.RTSP)
	rtspDisabled := false
	boolKey("rtspDisable", &rtspDisabled) // before MediaMTX v1.0
	if rtspDisabled {
		c.RTSP = false
	}
	strKey("rtspAddress", &c.RTSPAddress)
	strKey("rtspsAddress", &c.RTSPSAddress)
	boolKey("rtmp", &c.RTMP)
	disabled := false
	boolKey("rtmpDisable", &disabled) // before MediaMTX v1.0
	if disabled {
		c.RTMP = false
	}
	strKey("rtmpAddress", &c.RTMPAddress)
	strKey("rtmpsAddress", &c.RTMPSAddress)
	boolKey("hls", &c.HLS)
	strKey("hlsAddress", &c.HLSAddress)
	boolKey("hlsEncryption", &c.HLSEncryption)
	strKey("hlsServerCert", &c.HLSServerCert)
	strKey("hlsServerKey", &c.HLSServerKey)
	strKey("authMethod", &c.AuthMethod)
	encKey := func(key string, dst *string) {
		n, ok := keys[key]
		if !ok || err != nil {
			return
		}
		// "no" may also have been written as a YAML 1.1 boolean.
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
			if b, _ := asBool(n); !b {
				*dst = EncryptionNo
				return
			}
			err = fmt.Errorf("mediamtx config %s: key %s (line %d): %q: want no, optional or strict", name, key, n.Line, n.Value)
			return
		}
		strKey(key, dst)
		if err == nil {
			switch *dst {
			case EncryptionNo, EncryptionOptional, EncryptionStrict:
			default:
				err = fmt.Errorf("mediamtx config %s: key %s (line %d): %q: want no, optional or strict", name, key, n.Line, *dst)
			}
		}
	}
	encKey("rtspEncryption", &c.RTSPEncryption)
	encKey("rtmpEncryption", &c.RTMPEncryption)
	if err != nil {
		return Config{}, err
	}
	c.Access.Method = c.AuthMethod
	strKey("authHTTPAddress", &c.Access.HTTPAddress)
	strKey("authJWTJWKS", &c.Access.JWTJWKS)
	strKey("authJWTClaimKey", &c.Access.JWTClaimKey)
	boolKey("authJWTInHTTPQuery", &c.Access.JWTInHTTPQuery)
	if err != nil {
		return Config{}, err
	}
	if n, ok := keys["authJWTExclude"]; ok {
		if c.Access.JWTExclude, err = parsePermissions(n); err != nil {
			return fail("key authJWTExclude: %v", err)
		}
	}
	if n, ok := keys["authInternalUsers"]; ok {
		if c.Access.InternalUsers, err = parseUsers(n); err != nil {
			return fail("key authInternalUsers: %v", err)
		}
	}
	if n, ok := keys["authHTTPExclude"]; ok {
		if c.Access.HTTPExclude, err = parsePermissions(n); err != nil {
			return fail("key authHTTPExclude: %v", err)
		}
	}
	if n, ok := keys["hlsTrustedProxies"]; ok {
		if c.Access.TrustedProxies, err = parseNetworks(n); err != nil {
			return fail("key hlsTrustedProxies: %v", err)
		}
	}
	if _, err := access.New(c.Access); err != nil {
		return fail("%v", err)
	}
	if err := parseWebRTC(keys, &c.WebRTC); err != nil {
		return fail("%v", err)
	}
	for key, addr := range map[string]string{"rtspAddress": c.RTSPAddress, "rtspsAddress": c.RTSPSAddress, "rtmpAddress": c.RTMPAddress, "rtmpsAddress": c.RTMPSAddress, "hlsAddress": c.HLSAddress} {
		if _, _, err := splitAddr(addr); err != nil {
			return fail("key %s: %q: %v", key, addr, err)
		}
	}
	return c, nil
}

func asBool(n *yaml.Node) (bool, error) {
	if n.Kind != yaml.ScalarNode {
		return false, errors.New("want yes or no")
	}
	switch strings.ToLower(n.Value) {
	case "yes", "true", "on", "y":
		return true, nil
	case "no", "false", "off", "n":
		return false, nil
	}
	return false, fmt.Errorf("%q: want yes or no", n.Value)
}

func splitAddr(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, errors.New("want host:port or :port")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, n, nil
}

// loopbackHost turns a listen host into a host to dial on this machine.
func loopbackHost(h string) string {
	switch h {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::", "[::]":
		return "::1"
	}
	return h
}

// PullURL returns the URL from which the plugin reads path from MediaMTX.
// It prefers RTSP — rtsp://<rtspAddress>/<path>, or rtsps://<rtspsAddress>
// when rtspEncryption is strict — because MediaMTX v1.15 drops RTMP readers
// of streams with B-pyramids; with RTSP off it falls back to RTMP
// (rtmp://<rtmpAddress>/<path>, rtmps when rtmpEncryption is strict). A
// listen host that is empty or a wildcard becomes loopback. ReadUser and
// ReadPass, when set, go where MediaMTX reads them: user info for RTSP, the
// user and pass query parameters for RTMP. The publisher's query is not
// forwarded. The path is not checked here (see contract.ValidatePath).
func PullURL(cfg Config, path string) (string, error) {
	name := cfg.File
	if name == "" {
		name = "mediamtx.yml"
	}
	var scheme, key, addr string
	switch {
	case cfg.RTSP && cfg.RTSPEncryption == EncryptionStrict:
		scheme, key, addr = "rtsps", "rtspsAddress", cfg.RTSPSAddress
	case cfg.RTSP:
		scheme, key, addr = "rtsp", "rtspAddress", cfg.RTSPAddress
	case cfg.RTMP && cfg.RTMPEncryption == EncryptionStrict:
		scheme, key, addr = "rtmps", "rtmpsAddress", cfg.RTMPSAddress
	case cfg.RTMP:
		scheme, key, addr = "rtmp", "rtmpAddress", cfg.RTMPAddress
	default:
		return "", fmt.Errorf("mediamtx config %s: keys rtsp and rtmp are both off: swarmtx reads streams back from MediaMTX over RTSP (or RTMP); enable rtsp or pass --pull-url", name)
	}
	h, port, err := splitAddr(addr)
	if err != nil {
		return "", fmt.Errorf("mediamtx config %s: key %s: %q: %v", name, key, addr, err)
	}
	u := url.URL{
		Scheme: scheme,
		Host:   net.JoinHostPort(loopbackHost(h), strconv.Itoa(port)),
		Path:   "/" + strings.TrimPrefix(path, "/"),
	}
	if cfg.ReadUser != "" || cfg.ReadPass != "" {
		if scheme == "rtsp" || scheme == "rtsps" {
			u.User = url.UserPassword(cfg.ReadUser, cfg.ReadPass)
		} else {
			u.RawQuery = url.Values{"user": {cfg.ReadUser}, "pass": {cfg.ReadPass}}.Encode()
		}
	}
	return u.String(), nil
}
