package integration

import "testing"

// TestLong holds the long watches: a minute or more of playback, crowds of
// viewers, NAT beds, the attack suite and the demo. `make test` runs with
// -short and leaves them to `make test-long`, which CI runs after it; one is
// run on its own with, for example:
//
//	go test -count=1 -run 'TestLong/AttackLiars' ./integration
func TestLong(t *testing.T) {
	if testing.Short() {
		t.Skip("long watches: make test-long runs them")
	}
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"AttackForgedReports", testAttackForgedReports},
		{"AttackLiars", testAttackLiars},
		{"AttackSilentNeighbours", testAttackSilentNeighbours},
		{"AttackSessionFlood", testAttackSessionFlood},
		{"SlowReadersAndHeldReloads", testSlowReadersAndHeldReloads},
		{"SwarmOfThirtyFourViewers", testSwarmOfThirtyFourViewers},
		{"RelayCarriesTheSwarm", testRelayCarriesTheSwarm},
		{"NeverWorseUnderCPULoad", testNeverWorseUnderCPULoad},
		{"PublisherReconnectContinuesPlayback", testPublisherReconnectContinuesPlayback},
		{"BrowserPlaysLLHLS", testBrowserPlaysLLHLS},
		{"ProtectedStreamPlaysInBrowsers", testProtectedStreamPlaysInBrowsers},
		{"BrowserBasicAuthPlaysThroughSwarm", testBrowserBasicAuthPlaysThroughSwarm},
		{"BrowsersPlayOverHTTPS", testBrowsersPlayOverHTTPS},
		{"BrowsersPlayThroughNginx", testBrowsersPlayThroughNginx},
		{"CrowdBehindOneNAT", testCrowdBehindOneNAT},
		{"SwarmAcrossNATs", testSwarmAcrossNATs},
		{"BrowsersAcrossNATs", testBrowsersAcrossNATs},
		{"OriginBehind1To1NAT", testOriginBehind1To1NAT},
		{"MakeDemo", testMakeDemo},
	} {
		t.Run(c.name, c.run)
	}
}
