package signal

import (
	"net/netip"

	"github.com/swarmtx/swarmtx/peerpool/tracker"
)

// A network's second and later sessions are nobody's neighbour on their
// word alone. Until the server's own seeder, a viewer on another network or
// a proven viewer lists one among its open data channels (stats.from), it
// is on probation: it takes only free slots and nobody is given it; and a
// network may have only Config.MaxUnprovenPerNetwork sessions on probation
// in the mesh at once;
// the rest of its newcomers wait outside the mesh (they watch, and get
// announcements, but hold nobody's slot) until one of those proves itself,
// is taken out of the mesh or leaves. A flood of idle sessions from one
// network then holds a few slots for the length of a connection timeout,
// not every slot of the swarm. A network's first session is not on
// probation: the usual viewer, alone on its network, joins the mesh as
// before and the swarm forms at full speed (an idle one is dropped by its
// neighbours' connection timeout). Loopback without X-Forwarded-For names
// nobody and is not limited.

// limitedNetwork reports whether per-network limits apply to network.
func limitedNetwork(network netip.Prefix) bool {
	return network.IsValid() && !network.Addr().IsLoopback()
}

// onProbation: m is not its network's only session.
func (c *Core) onProbation(m *member) bool {
	return limitedNetwork(m.network) && c.networks[m.network] > 1
}

// admitOrHold puts a joined member into the mesh, or holds it back while
// its network has enough sessions on probation.
func (c *Core) admitOrHold(m *member) {
	if c.onProbation(m) && c.unproven[m.network] >= c.cfg.MaxUnprovenPerNetwork {
		c.held[m.network] = append(c.held[m.network], m)
		c.log.Debug("viewer waits outside the mesh: its network has sessions on probation", "peer", m.id, "network", m.network)
		return
	}
	c.admit(m)
}

func (c *Core) admit(m *member) {
	m.admitted = true
	if c.onProbation(m) {
		c.unproven[m.network]++
	} else {
		m.proven = true
	}
	c.apply(c.mesh.Join(string(m.id), m.params()))
}

// params are what the tracker is told of m.
func (m *member) params() tracker.PeerParams {
	return tracker.PeerParams{
		CanUpload:    m.canUpload,
		UploadCapBps: m.uploadCap,
		Rendition:    m.rendition,
		Unproven:     m.admitted && !m.proven,
	}
}

// endProbation takes m off its network's probation count (it proved
// itself, was taken out of the mesh or left) and admits the next session
// its network holds back.
func (c *Core) endProbation(m *member) {
	if !m.admitted || m.proven || m.offProbation {
		return
	}
	m.offProbation = true
	if c.unproven[m.network]--; c.unproven[m.network] <= 0 {
		delete(c.unproven, m.network)
	}
	for q := c.held[m.network]; len(q) > 0; q = c.held[m.network] {
		next := q[0]
		if len(q) == 1 {
			delete(c.held, m.network)
		} else {
			c.held[m.network] = q[1:]
		}
		if c.members[next.id] == next {
			c.admit(next)
			return
		}
	}
}

// proven records that the server's seeder, a viewer on another network
// or a vouching session of its own has an open data channel with m: it
// is off probation, and may vouch for its own network in turn.
func (c *Core) proven(m *member) {
	m.vouching = true
	if m.proven {
		return
	}
	c.endProbation(m)
	m.proven = true
	if m.admitted {
		c.apply(c.mesh.Update(string(m.id), m.params()))
	}
}

// unhold forgets a held member that left.
func (c *Core) unhold(m *member) {
	q := c.held[m.network]
	for i, x := range q {
		if x == m {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(c.held, m.network)
	} else {
		c.held[m.network] = q
	}
}
