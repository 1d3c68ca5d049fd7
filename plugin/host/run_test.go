package host

import (
	"testing"

	"github.com/swarmtx/swarmtx/plugin/contract"
)

func TestFormatEvent(t *testing.T) {
	got := FormatEvent(contract.Event{Kind: contract.EventError, Permanent: true, Message: "bad\ncodec", Renditions: []string{"source"}, URL: "http://x/"})
	if got != "ERROR (permanent) bad codec renditions=source url=http://x/" {
		t.Fatal(got)
	}
}
