package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/swarmtx/swarmtx/integration/harness"
)

// depsTools are the tools deps.sh looks for, each with the names it may go by
// in PATH and the Debian package that provides it.
var depsTools = map[string]struct {
	names []string
	pkg   string
}{
	"ffmpeg":   {[]string{"ffmpeg"}, "ffmpeg"},
	"ffprobe":  {[]string{"ffprobe"}, "ffmpeg"},
	"chromium": {[]string{"chromium", "chromium-browser"}, "chromium"},
	"ip":       {[]string{"ip"}, "iproute2"},
	"unshare":  {[]string{"unshare"}, "util-linux"},
	"nft":      {[]string{"nft"}, "nftables"},
	"nginx":    {[]string{"nginx"}, "nginx-light"},
	"node":     {[]string{"node"}, "nodejs"},
	"npm":      {[]string{"npm"}, "npm"},
	"go":       {[]string{"go"}, ""},
}

// Fake dpkg-query answers for a node that is Debian's, NodeSource's, or not
// from a package at all.
const (
	dpkgDebian     = "nodejs 18.19.0+dfsg-6~deb12u2"
	dpkgNodeSource = "nodejs 20.20.2-1nodesource1"
	dpkgNone       = ""
)

type depsCase struct {
	name   string
	hide   []string // tools (keys of depsTools) to take out of PATH
	noApt  bool     // no apt-get in PATH either
	uid    string   // what `id -u` says; "0" when empty
	dpkg   *string  // fake dpkg-query's node owner; nil keeps the real one
	broken bool     // apt-get installs nothing
	// want is the package set apt-get install must be asked for; nil means
	// apt-get must not be run at all.
	want   []string
	fail   bool
	naming []string // words the error must contain (besides the hidden tools)
}

// TestDeps runs deps.sh with tools hidden from PATH and a fake apt-get, and
// checks that it asks apt for exactly the packages of the missing tools,
// refuses what apt must not install, and names exactly what is missing when
// it cannot install.
func TestDeps(t *testing.T) {
	if _, err := os.Stat("/etc/debian_version"); err != nil {
		t.Skip("deps.sh installs with apt only on Debian-like systems")
	}
	if _, err := harness.MediaMTXPath(); err != nil {
		t.Fatal(err)
	}
	if _, err := harness.HLSJSPath(); err != nil {
		t.Fatal(err)
	}
	// The script's last step runs npm ci unless the client's packages match
	// its lock; the test namespace has no network for that.
	lock, _ := os.ReadFile("../peerpool/client/package-lock.json")
	installed, _ := os.ReadFile("../peerpool/client/node_modules/.swarmtx-installed-lock")
	if len(lock) == 0 || !bytes.Equal(lock, installed) {
		t.Fatal("peerpool/client's npm packages are not installed for its current lock: run `make deps`")
	}
	script, err := filepath.Abs("tools/deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}

	debian, nodesource, none := dpkgDebian, dpkgNodeSource, dpkgNone
	cases := []depsCase{
		{name: "nothing missing"},
		{name: "ffmpeg", hide: []string{"ffmpeg"}, want: []string{"ffmpeg"}},
		{name: "ffprobe", hide: []string{"ffprobe"}, want: []string{"ffmpeg"}},
		{name: "ffmpeg and ffprobe", hide: []string{"ffmpeg", "ffprobe"}, want: []string{"ffmpeg"}},
		{name: "chromium", hide: []string{"chromium"}, want: []string{"chromium"}},
		{name: "ip", hide: []string{"ip"}, want: []string{"iproute2"}},
		{name: "unshare", hide: []string{"unshare"}, want: []string{"util-linux"}},
		{name: "nft", hide: []string{"nft"}, want: []string{"nftables"}},
		{name: "nginx", hide: []string{"nginx"}, want: []string{"nginx-light"}},
		{name: "node", hide: []string{"node"}, want: []string{"nodejs"}},
		{name: "node and npm", hide: []string{"node", "npm"}, want: []string{"nodejs", "npm"}},
		{name: "npm of Debian's node", hide: []string{"npm"}, dpkg: &debian, want: []string{"npm"}},
		{name: "npm of NodeSource's node", hide: []string{"npm"}, dpkg: &nodesource, fail: true, naming: []string{"NodeSource"}},
		{name: "npm of a node not from a package", hide: []string{"npm"}, dpkg: &none, fail: true},
		{name: "go", hide: []string{"go"}, fail: true},
		{name: "go and ip", hide: []string{"go", "ip"}, fail: true, naming: []string{"iproute2"}},
		{name: "several", hide: []string{"ffprobe", "chromium", "unshare"}, want: []string{"ffmpeg", "chromium", "util-linux"}},
		{name: "apt-get does not deliver", hide: []string{"ip"}, broken: true, want: []string{"iproute2"}, fail: true, naming: []string{"still missing"}},
		{name: "no apt-get, ip", hide: []string{"ip"}, noApt: true, fail: true, naming: []string{"iproute2"}},
		{name: "no apt-get, chromium and unshare", hide: []string{"chromium", "unshare"}, noApt: true, fail: true, naming: []string{"util-linux"}},
		{name: "not root, ffprobe", hide: []string{"ffprobe"}, uid: "1000", fail: true, naming: []string{"ffmpeg", "root"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runDepsCase(t, bash, script, c) })
	}
}

func runDepsCase(t *testing.T, bash, script string, c depsCase) {
	bin := t.TempDir()
	hidden := map[string]bool{}
	for _, tool := range c.hide {
		for _, n := range depsTools[tool].names {
			hidden[n] = true
		}
	}
	hidden["apt-get"] = true
	hidden["id"] = true
	if c.dpkg != nil {
		hidden["dpkg-query"] = true
	}

	// restore lists, per package, the hidden files the fake apt-get puts back.
	var restore strings.Builder
	dirs := append(filepath.SplitList(os.Getenv("PATH")), "/usr/sbin", "/sbin")
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n, p := e.Name(), filepath.Join(d, e.Name())
			if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				continue
			}
			_, err1 := os.Lstat(filepath.Join(bin, n))
			_, err2 := os.Lstat(filepath.Join(bin, ".hidden-"+n))
			if err1 == nil || err2 == nil {
				continue // an earlier PATH entry wins
			}
			if hidden[n] {
				for _, tool := range c.hide {
					if slices.Contains(depsTools[tool].names, n) && depsTools[tool].pkg != "" && !c.broken {
						fmt.Fprintf(&restore, "%s %s %s\n", depsTools[tool].pkg, n, p)
					}
				}
				if n == "id" {
					uid := c.uid
					if uid == "" {
						uid = "0"
					}
					writeScript(t, bin, "id", fmt.Sprintf("[ \"$1\" = -u ] && { echo %s; exit 0; }\nexec %s \"$@\"\n", uid, p))
				}
				// A placeholder keeps a later PATH entry from supplying it.
				if err := os.WriteFile(filepath.Join(bin, ".hidden-"+n), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.Symlink(p, filepath.Join(bin, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tool := range c.hide {
		found := false
		for _, n := range depsTools[tool].names {
			if _, err := os.Stat(filepath.Join(bin, ".hidden-"+n)); err == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s is not in PATH here, so hiding it proves nothing", tool)
		}
	}

	work := t.TempDir()
	aptLog := filepath.Join(work, "apt.log")
	restoreFile := filepath.Join(work, "restore")
	if err := os.WriteFile(restoreFile, []byte(restore.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if !c.noApt {
		writeScript(t, bin, "apt-get", `printf '%s\n' "$*" >> "$FAKE_APT_LOG"
[ "$1" = install ] || exit 0
shift
for p in "$@"; do
  case $p in -*) continue;; esac
  while read -r pkg name target; do
    [ "$pkg" = "$p" ] && ln -sf "$target" "$(dirname "$0")/$name"
  done < "$FAKE_APT_RESTORE"
done
exit 0
`)
	}
	if c.dpkg != nil {
		owner, version, _ := strings.Cut(*c.dpkg, " ")
		body := "echo \"dpkg-query: no path found matching pattern $2\" >&2; exit 1\n"
		if owner != "" {
			body = fmt.Sprintf(`case $1 in
-S) echo "%[1]s: $2";;
-W) [ "${2#-f=}" != "$2" ] && [ "$3" = %[1]s ] && { printf %%s '%[2]s'; exit 0; }; exit 1;;
*) exit 1;;
esac
`, owner, version)
		}
		writeScript(t, bin, "dpkg-query", body)
	}

	cmd := exec.Command(bash, script)
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + bin,
		"HOME=" + os.Getenv("HOME"),
		"SWARMTX_CACHE=" + harness.CacheDir(),
		"FAKE_APT_LOG=" + aptLog,
		"FAKE_APT_RESTORE=" + restoreFile,
	}
	out, err := cmd.CombinedOutput()
	t.Logf("deps.sh (exit %v):\n%s", err, out)

	calls, _ := os.ReadFile(aptLog)
	var installs [][]string
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		if l == "" {
			continue
		}
		lines = append(lines, l)
		if f := strings.Fields(l); f[0] == "install" {
			var pkgs []string
			for _, a := range f[1:] {
				if !strings.HasPrefix(a, "-") {
					pkgs = append(pkgs, a)
				}
			}
			slices.Sort(pkgs)
			installs = append(installs, pkgs)
		}
	}
	if c.want == nil {
		if len(lines) > 0 {
			t.Errorf("apt-get was run, want not at all: %q", lines)
		}
	} else {
		want := slices.Clone(c.want)
		slices.Sort(want)
		if len(installs) != 1 || !slices.Equal(installs[0], want) {
			t.Errorf("apt-get install asked for %q, want exactly one install of %q", installs, want)
		}
	}

	if !c.fail {
		if err != nil {
			t.Fatalf("deps.sh failed: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("deps.sh succeeded, want a failure")
	}
	var msg string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "deps: ERROR: ") {
			msg = l
		}
	}
	if msg == "" {
		t.Fatal("no `deps: ERROR:` line")
	}
	for _, w := range append(slices.Clone(c.hide), c.naming...) {
		if !containsWord(msg, w) {
			t.Errorf("the error does not name %q", w)
		}
	}
	if strings.Contains(msg, "ca-certificates") {
		t.Error("the error names ca-certificates, though the CA bundle is there")
	}
	// Naming exactly what is missing: no other tool, and no package of a tool
	// that is present. Node's cases talk about node by necessity.
	for tool, d := range depsTools {
		if slices.Contains(c.hide, tool) || (tool == "node" && slices.Contains(c.hide, "npm")) {
			continue
		}
		if containsWord(msg, tool) && !slices.Contains(c.naming, tool) {
			t.Errorf("the error names %q, which is not missing", tool)
		}
		if d.pkg != "" && d.pkg != tool && !slices.Contains(c.naming, d.pkg) && containsWord(msg, d.pkg) {
			t.Errorf("the error names package %q, whose tools are not missing", d.pkg)
		}
	}
}

// containsWord reports whether w occurs in s with no letter, digit or dash
// joined to it, so "ip" does not match inside "iproute2".
func containsWord(s, w string) bool {
	return regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(w) + `($|[^\w-])`).MatchString(s)
}

func writeScript(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}
