package harness

import (
	"fmt"
	"os"
	"path/filepath"
)

// Pinned versions; integration/tools/deps.sh builds exactly these.
const (
	MediaMTXVersion = "v1.15.3"
	HLSJSVersion    = "1.6.13"
)

// CacheDir is where deps.sh keeps built tools: $SWARMTX_CACHE, or
// $HOME/.cache/swarmtx. It must agree with deps.sh.
func CacheDir() string {
	if d := os.Getenv("SWARMTX_CACHE"); d != "" {
		return d
	}
	home := os.Getenv("HOME")
	if home == "" {
		// CI may run without HOME; deps.sh falls back to /root the same way.
		home = "/root"
	}
	return filepath.Join(home, ".cache", "swarmtx")
}

// MediaMTXPath returns the cached MediaMTX binary built by `make deps`.
func MediaMTXPath() (string, error) {
	return cached(filepath.Join("mediamtx-"+MediaMTXVersion, "mediamtx"), "MediaMTX "+MediaMTXVersion)
}

// HLSJSPath returns the cached hls.min.js (hls.js HLSJSVersion).
func HLSJSPath() (string, error) {
	return cached(filepath.Join("hls.js-"+HLSJSVersion, "hls.min.js"), "hls.js "+HLSJSVersion)
}

func cached(rel, what string) (string, error) {
	p := filepath.Join(CacheDir(), rel)
	st, err := os.Stat(p)
	if err != nil || st.Size() == 0 {
		return "", fmt.Errorf("%s not found at %s: run `make deps` (integration/tools/deps.sh) first, with the same SWARMTX_CACHE/HOME", what, p)
	}
	return p, nil
}
