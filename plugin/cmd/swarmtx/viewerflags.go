package main

import (
	"errors"
	"flag"
	"net/http"
	"os"
	"strings"
)

// Flags `swarmtx relay` and `swarmtx crowd` share: both run viewers.

// credentialFlags are how `swarmtx relay` and `swarmtx crowd` read a
// protected stream: as MediaMTX's HLS server takes credentials, a user and
// password (HTTP basic auth) or a JWT (bearer). The secrets may come from
// the environment, so they need not show in the process list.
type credentialFlags struct {
	user, password, jwt string
}

func (c *credentialFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.user, "user", "", "user to read a protected stream as (HTTP basic auth)")
	fs.StringVar(&c.password, "password", os.Getenv("SWARMTX_PASSWORD"), "password of --user (default $SWARMTX_PASSWORD)")
	fs.StringVar(&c.jwt, "jwt", os.Getenv("SWARMTX_JWT"), "JWT to read a protected stream with (default $SWARMTX_JWT)")
}

// header returns the requests' credentials, nil for none.
func (c *credentialFlags) header() (http.Header, error) {
	switch {
	case c.jwt != "" && c.user != "":
		return nil, errors.New("--jwt and --user are two ways to authenticate: give one")
	case c.jwt != "":
		return http.Header{"Authorization": {"Bearer " + c.jwt}}, nil
	case c.user != "":
		req := http.Request{Header: make(http.Header)}
		req.SetBasicAuth(c.user, c.password)
		return req.Header, nil
	case c.password != "":
		return nil, errors.New("--password (or $SWARMTX_PASSWORD) without --user")
	}
	return nil, nil
}

// commaList reads a comma-separated flag (--interfaces, --public-hosts), blanks dropped.
func commaList(s string) []string {
	var list []string
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			list = append(list, name)
		}
	}
	return list
}
