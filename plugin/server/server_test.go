package server

import (
	"os"
	"testing"
)

func TestParseHandshake(t *testing.T) {
	ri, err := parseHandshake("1|1|unix|/run/swarmtx/plugin123|grpc|\n", "v9")
	if err != nil || ri.Network != "unix" || ri.Address != "/run/swarmtx/plugin123" || ri.Protocol != "grpc" || ri.ProtocolVersion != 1 || ri.Pid != os.Getpid() || ri.Version != "v9" {
		t.Fatalf("%+v %v", ri, err)
	}
	if _, err := parseHandshake("garbage", "v"); err == nil {
		t.Fatal("accepted garbage")
	}
}
