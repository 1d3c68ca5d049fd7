package main

import (
	"bytes"
	"strings"
	"testing"
)

// A crowd asked for something impossible says which flag was wrong and
// starts nothing.
func TestCrowdFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--url is required"},
		{[]string{"--url", "http://127.0.0.1:1/live/show/", "--upload-mix", "50%:1x"}, "--upload-mix: upload mix \"50%:1x\": shares add up to 50%"},
		{[]string{"--url", "http://127.0.0.1:1/live/show/", "--interfaces", "no-such-if0"}, `--interfaces: network interface "no-such-if0"`},
		{[]string{"--url", "http://127.0.0.1:1/live/show/", "--swarm-wait", "-1s"}, "--swarm-wait -1s is negative"},
		{[]string{"--url", "http://127.0.0.1:1/live/show/", "-n", "0"}, "0 viewers is outside 1..1000"},
		{[]string{"--url", "http://127.0.0.1:1/live/show/", "extra"}, "unexpected arguments"},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"crowd"}, c.args...), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("crowd %q: exit %d, stderr %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}

func TestCredentialFlags(t *testing.T) {
	for _, c := range []struct {
		flags credentialFlags
		want  string // Authorization, or the error
	}{
		{credentialFlags{}, ""},
		{credentialFlags{user: "alice", password: "s3cret"}, "Basic YWxpY2U6czNjcmV0"},
		{credentialFlags{jwt: "a.b.c"}, "Bearer a.b.c"},
		{credentialFlags{user: "alice", jwt: "a.b.c"}, "error: --jwt and --user are two ways"},
		{credentialFlags{password: "s3cret"}, "error: --password (or $SWARMTX_PASSWORD) without --user"},
	} {
		h, err := c.flags.header()
		got := h.Get("Authorization")
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, c.want) || (c.want == "" && got != "") {
			t.Errorf("%+v: %q, want %q", c.flags, got, c.want)
		}
	}
}
