package relay

import (
	"context"
	"strings"
	"testing"
)

func TestRunRefusesWhatCanNeverWork(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "not the http(s) URL"},
		{Config{URL: "ftp://origin/live/show/"}, "not the http(s) URL"},
		{Config{URL: "http:///live/show/"}, "not the http(s) URL"},
		{Config{URL: "http://origin:8880/live/show/", UploadCapBps: -1}, "upload cap"},
		{Config{URL: "http://origin:8880/live/show/", Interfaces: []string{"no-such-interface0"}}, "no-such-interface0"},
	} {
		err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}
