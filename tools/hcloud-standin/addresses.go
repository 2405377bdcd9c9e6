package main

// A server's addresses: private ones picked from its network's subnets in the server's network zone (a
// subnet of another zone is never used: the API refuses such an attachment), the public IPv4 from the rig's
// range, IPv6 from the documentation range.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// hostPrivateIPs: the server's private addresses with their subnet's prefix length (10.1.1.11/24).
func (s *Store) hostPrivateIPs(rec *serverRec) []string {
	var out []string
	for _, pn := range rec.Server.PrivateNet {
		n, ok := s.d.Networks[pn.Network]
		if !ok {
			continue
		}
		ip := netip.MustParseAddr(pn.IP)
		for _, sub := range n.Subnets {
			if p := netip.MustParsePrefix(sub.IPRange); p.Contains(ip) {
				out = append(out, netip.PrefixFrom(ip, p.Bits()).String())
			}
		}
	}
	return out
}

// reservedIn: addresses of a subnet no server gets: its network and broadcast addresses, the network's
// gateway (first address of the network range), and the subnet's first address, which the local bridge
// carries (the hosts' neighbour on the private network).
func reservedIn(n *schema.Network, p netip.Prefix, ip netip.Addr) bool {
	last := p.Addr()
	for i := 0; i < (1<<(32-p.Bits()))-1; i++ {
		last = last.Next()
	}
	return ip == p.Addr() || ip == last || ip == p.Addr().Next() || ip.String() == gatewayOf(n.IPRange)
}

func (s *Store) ipUsed(networkID int64, ip string) bool {
	for _, rec := range s.d.Servers {
		for _, pn := range rec.Server.PrivateNet {
			if pn.Network == networkID && (pn.IP == ip || slices.Contains(pn.AliasIPs, ip)) {
				return true
			}
		}
	}
	return false
}

// pickPrivateIP checks the wanted address (or picks the first free one) in a subnet of the server's zone.
func (s *Store) pickPrivateIP(n *schema.Network, zone, want string) (string, *apiError) {
	var subnets []netip.Prefix
	for _, sub := range n.Subnets {
		if sub.NetworkZone == zone && (sub.Type == "cloud" || sub.Type == "server") {
			subnets = append(subnets, netip.MustParsePrefix(sub.IPRange))
		}
	}
	if len(subnets) == 0 {
		return "", errRefused("no_subnet_available", fmt.Sprintf("network %d has no subnet in network zone %s", n.ID, zone))
	}
	if want != "" {
		ip, err := netip.ParseAddr(want)
		if err != nil || !ip.Is4() {
			return "", errInvalid("ip", fmt.Sprintf("%q is not an IPv4 address", want))
		}
		i := slices.IndexFunc(subnets, func(p netip.Prefix) bool { return p.Contains(ip) })
		if i < 0 {
			return "", errInvalid("ip", fmt.Sprintf("%s is not inside a subnet of network %d in network zone %s", ip, n.ID, zone))
		}
		if reservedIn(n, subnets[i], ip) || s.ipUsed(n.ID, ip.String()) {
			return "", errRefused("ip_not_available", fmt.Sprintf("IP %s is not available", ip))
		}
		return ip.String(), nil
	}
	for _, p := range subnets {
		for ip := p.Addr(); p.Contains(ip); ip = ip.Next() {
			if !reservedIn(n, p, ip) && !s.ipUsed(n.ID, ip.String()) {
				return ip.String(), nil
			}
		}
	}
	return "", errRefused("no_subnet_available", "no free IP left in the network's subnets")
}

// publicIPv4 picks the first free address of the public range (.11 to .254; .1 is the bridge's).
// publicIPv4 hands out the first free address after the last one it handed out (wrapping around), as
// Hetzner gives a new server a new primary IP: a server deleted and recreated comes back on another address,
// so a client that kept the old one is caught.
func (s *Store) publicIPv4() (string, bool) {
	const first, count = 11, 244 // .11 to .254
	used := map[string]bool{}
	for _, rec := range s.d.Servers {
		used[rec.Server.PublicNet.IPv4.IP] = true
	}
	last := int(s.d.IDs[lastPublicIPv4]) // 0 before the first
	start := 0
	if last >= first {
		start = last - first + 1
	}
	for k := 0; k < count; k++ {
		octet := first + (start+k)%count
		ip := fmt.Sprintf("%s.%d", s.publicPrefix, octet)
		if !used[ip] {
			s.d.IDs[lastPublicIPv4] = int64(octet)
			return ip, true
		}
	}
	return "", false
}

// The IDs counter that remembers the last public IPv4 address handed out (its last octet).
const lastPublicIPv4 = "public_ipv4_last_octet"

func reverseDNS(ip string) string {
	o := strings.Split(ip, ".")
	slices.Reverse(o)
	return "static." + strings.Join(o, ".") + ".clients.your-server.de"
}

// macFor is a stable locally administered MAC for a server's attachment to a network.
func macFor(serverID, networkID int64) string {
	return fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(networkID), byte(serverID>>8), byte(serverID))
}
