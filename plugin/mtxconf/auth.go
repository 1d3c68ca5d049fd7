package mtxconf

import (
	"fmt"
	"net/netip"

	"gopkg.in/yaml.v3"

	"github.com/swarmtx/swarmtx/plugin/access"
)

// parseUsers reads authInternalUsers as MediaMTX does: a user name is
// required, and the user "any" has no password.
func parseUsers(n *yaml.Node) ([]access.User, error) {
	var raw []struct {
		User        string   `yaml:"user"`
		Pass        string   `yaml:"pass"`
		IPs         []string `yaml:"ips"`
		Permissions []struct {
			Action string `yaml:"action"`
			Path   string `yaml:"path"`
		} `yaml:"permissions"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	users := make([]access.User, 0, len(raw))
	for i, r := range raw {
		if r.User == "" {
			return nil, fmt.Errorf("user %d: empty usernames are not supported", i)
		}
		if r.User == "any" && r.Pass != "" {
			return nil, fmt.Errorf("user %d: the user 'any' has no password", i)
		}
		var u access.User
		var err error
		if u.User, err = access.NewCredential(r.User); err != nil {
			return nil, fmt.Errorf("user %d: user: %w", i, err)
		}
		if u.Pass, err = access.NewCredential(r.Pass); err != nil {
			return nil, fmt.Errorf("user %d: pass: %w", i, err)
		}
		if u.IPs, err = networks(r.IPs); err != nil {
			return nil, fmt.Errorf("user %d: ips: %w", i, err)
		}
		for j, p := range r.Permissions {
			perm, err := access.NewPermission(p.Action, p.Path)
			if err != nil {
				return nil, fmt.Errorf("user %d: permission %d: %w", i, j, err)
			}
			u.Permissions = append(u.Permissions, perm)
		}
		users = append(users, u)
	}
	return users, nil
}

func parsePermissions(n *yaml.Node) ([]access.Permission, error) {
	var raw []struct {
		Action string `yaml:"action"`
		Path   string `yaml:"path"`
	}
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	var out []access.Permission
	for i, p := range raw {
		perm, err := access.NewPermission(p.Action, p.Path)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out = append(out, perm)
	}
	return out, nil
}

func parseNetworks(n *yaml.Node) ([]netip.Prefix, error) {
	var raw []string
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	return networks(raw)
}

// networks reads addresses and CIDR ranges; an address is its own /32 or
// /128.
func networks(in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR range", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
