package main

// Networks: CRUD, subnets and routes (add/delete), change_ip_range, change_protection. RFC 1918 ranges; a
// subnet's gateway is the first address of the network (10.1.0.1), as the API reports it.

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var networks = kind[schema.Network]{res: "networks", one: "network", what: "network", byCreated: true,
	all: func(s *Store) map[int64]*schema.Network { return s.d.Networks },
	meta: func(n *schema.Network) meta {
		return meta{id: n.ID, name: &n.Name, labels: &n.Labels, created: &n.Created}
	},
	render: func(s *Store, n *schema.Network) any { return s.renderNetwork(n) },
	more: func(s *Store, body []byte, n *schema.Network) *apiError {
		var req schema.NetworkUpdateRequest
		if e := decodeBytes(body, &req); e != nil {
			return e
		}
		if req.ExposeRoutesToVSwitch != nil {
			n.ExposeRoutesToVSwitch = *req.ExposeRoutesToVSwitch
		}
		return nil
	},
	remove: func(s *Store, id int64, n *schema.Network) *apiError {
		if n.Protection.Delete {
			return errProtected("network")
		}
		s.detachAll(id)
		return nil
	},
}

// create and the actions are set here: they use networks themselves (no initialization cycle).
func init() {
	networks.create = (*API).createNetwork
	networks.actions = map[string]actionHandler{
		"add_subnet":        (*API).networkAddSubnet,
		"delete_subnet":     (*API).networkDeleteSubnet,
		"add_route":         (*API).networkAddRoute,
		"delete_route":      (*API).networkDeleteRoute,
		"change_ip_range":   (*API).networkChangeIPRange,
		"change_protection": (*API).networkChangeProtection,
	}
	register(networks)
}

// detachAll detaches every server from a network being deleted; the hosts follow in the background, as
// the API documents.
func (s *Store) detachAll(id int64) {
	for _, sid := range sortedIDs(s.d.Servers) {
		rec := s.d.Servers[sid]
		kept := slices.DeleteFunc(slices.Clone(rec.Server.PrivateNet), func(pn schema.ServerPrivateNet) bool { return pn.Network == id })
		if len(kept) == len(rec.Server.PrivateNet) {
			continue
		}
		rec.Server.PrivateNet = kept
		ips := s.hostPrivateIPs(rec)
		s.async(func() error { return s.hosts.SetNetworks(bg(), sid, ips) }, func(err error) {
			if err != nil {
				s.log.Printf("detaching server %d from deleted network %d: %v", sid, id, err)
			}
		})
	}
}

func (s *Store) renderNetwork(n *schema.Network) schema.Network {
	out := *n
	out.Subnets = slices.Clone(n.Subnets)
	out.Routes = slices.Clone(n.Routes)
	out.Servers = []int64{}
	for _, id := range sortedIDs(s.d.Servers) {
		for _, pn := range s.d.Servers[id].Server.PrivateNet {
			if pn.Network == n.ID {
				out.Servers = append(out.Servers, id)
			}
		}
	}
	out.LoadBalancers = []int64{}
	return out
}

func isPrivate(p netip.Prefix) bool {
	for _, r := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} {
		if netip.MustParsePrefix(r).Contains(p.Addr()) && p.Bits() >= netip.MustParsePrefix(r).Bits() {
			return true
		}
	}
	return false
}

func parseRange(field, v string) (netip.Prefix, *apiError) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, errInvalid(field, fmt.Sprintf("%q is not an IPv4 network in CIDR notation", v))
	}
	if p.Masked() != p {
		return netip.Prefix{}, errInvalid(field, fmt.Sprintf("%q has host bits set; did you mean %s?", v, p.Masked()))
	}
	return p, nil
}

func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// gatewayOf is what the API reports as a subnet's gateway: the first address of the network's range.
func gatewayOf(networkRange string) string {
	p := netip.MustParsePrefix(networkRange)
	return p.Addr().Next().String()
}

func (s *Store) checkSubnet(n *schema.Network, sub *schema.NetworkSubnet) *apiError {
	if sub.Type != "cloud" && sub.Type != "server" {
		if sub.Type == "vswitch" {
			return errInvalid("type", "vswitch subnets need a Robot vSwitch, which the stand-in does not have")
		}
		return errInvalid("type", "must be one of: cloud, server, vswitch")
	}
	if !networkZones[sub.NetworkZone] {
		return errInvalid("network_zone", fmt.Sprintf("unknown network zone %q", sub.NetworkZone))
	}
	nr := netip.MustParsePrefix(n.IPRange)
	if sub.IPRange == "" {
		// The first free /24 inside the network.
		for addr := nr.Addr(); nr.Contains(addr); {
			cand := netip.PrefixFrom(addr, 24)
			if cand.Bits() >= nr.Bits() && !slices.ContainsFunc(n.Subnets, func(o schema.NetworkSubnet) bool {
				return overlaps(netip.MustParsePrefix(o.IPRange), cand)
			}) {
				sub.IPRange = cand.String()
				break
			}
			a4 := addr.As4()
			a4[2]++
			if a4[2] == 0 {
				break
			}
			addr = netip.AddrFrom4(a4)
		}
		if sub.IPRange == "" {
			return errRefused("no_subnet_available", "no free /24 left in the network")
		}
	}
	p, e := parseRange("ip_range", sub.IPRange)
	if e != nil {
		return e
	}
	if !nr.Contains(p.Addr()) || p.Bits() < nr.Bits() {
		return errInvalid("ip_range", fmt.Sprintf("subnet %s is not inside the network's range %s", p, nr))
	}
	if p.Bits() > 30 {
		return errInvalid("ip_range", "a subnet must be at least a /30")
	}
	for _, o := range n.Subnets {
		if overlaps(netip.MustParsePrefix(o.IPRange), p) {
			return errInvalid("ip_range", fmt.Sprintf("subnet %s overlaps subnet %s", p, o.IPRange))
		}
	}
	sub.Gateway = gatewayOf(n.IPRange)
	return nil
}

func (a *API) createNetwork(r *http.Request) (int, any, *apiError) {
	var req schema.NetworkCreateRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	if e := networks.validName(req.Name); e != nil {
		return fail(e)
	}
	p, e := parseRange("ip_range", req.IPRange)
	if e != nil {
		return fail(e)
	}
	if !isPrivate(p) || p.Bits() > 24 {
		return fail(errInvalid("ip_range", "must be an RFC 1918 private range of at least /24"))
	}
	labels := copyLabels(req.Labels)
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := networks.checkNew(s, req.Name, labels); e != nil {
		return fail(e)
	}
	n := &schema.Network{ID: 0, Name: req.Name, Created: s.now(), IPRange: p.String(), Subnets: []schema.NetworkSubnet{},
		Routes: []schema.NetworkRoute{}, Labels: labels, ExposeRoutesToVSwitch: req.ExposeRoutesToVSwitch}
	for _, sub := range req.Subnets {
		sub := sub
		if e := s.checkSubnet(n, &sub); e != nil {
			return fail(e)
		}
		n.Subnets = append(n.Subnets, sub)
	}
	for _, rt := range req.Routes {
		if e := checkRoute(n, rt); e != nil {
			return fail(e)
		}
		n.Routes = append(n.Routes, rt)
	}
	n.ID = s.nextID("networks")
	s.d.Networks[n.ID] = n
	s.save()
	return http.StatusCreated, map[string]any{"network": s.renderNetwork(n)}, nil
}

func checkRoute(n *schema.Network, rt schema.NetworkRoute) *apiError {
	if _, e := parseRange("destination", rt.Destination); e != nil {
		return e
	}
	gw, err := netip.ParseAddr(rt.Gateway)
	if err != nil || !netip.MustParsePrefix(n.IPRange).Contains(gw) {
		return errInvalid("gateway", "must be an address inside the network")
	}
	return nil
}

// networkAction decodes req, finds the network and runs fn on it, all under the lock; it answers with a
// finished action (network changes take effect at once here).
func networkAction[T any](a *API, r *http.Request, id int64, command string, fn func(s *Store, n *schema.Network, req *T) *apiError) (int, any, *apiError) {
	return onRecord(a, r, networks, id, func(s *Store, n *schema.Network, req *T) (int, any, *apiError) {
		if e := fn(s, n, req); e != nil {
			return fail(e)
		}
		act := s.newAction(command, false, ref("network", id))
		s.save()
		return http.StatusCreated, map[string]any{"action": act}, nil
	})
}

func (a *API) networkAddSubnet(r *http.Request, id int64) (int, any, *apiError) {
	return networkAction(a, r, id, "add_subnet", func(s *Store, n *schema.Network, req *schema.NetworkActionAddSubnetRequest) *apiError {
		sub := schema.NetworkSubnet{Type: req.Type, IPRange: req.IPRange, NetworkZone: req.NetworkZone}
		if e := s.checkSubnet(n, &sub); e != nil {
			return e
		}
		n.Subnets = append(n.Subnets, sub)
		return nil
	})
}

func (a *API) networkDeleteSubnet(r *http.Request, id int64) (int, any, *apiError) {
	return networkAction(a, r, id, "delete_subnet", func(s *Store, n *schema.Network, req *schema.NetworkActionDeleteSubnetRequest) *apiError {
		i := slices.IndexFunc(n.Subnets, func(o schema.NetworkSubnet) bool { return o.IPRange == req.IPRange })
		if i < 0 {
			return errNotFound("subnet")
		}
		p := netip.MustParsePrefix(req.IPRange)
		for _, rec := range s.d.Servers {
			for _, pn := range rec.Server.PrivateNet {
				if pn.Network == n.ID && p.Contains(netip.MustParseAddr(pn.IP)) {
					return errService("servers are attached to this subnet")
				}
			}
		}
		n.Subnets = slices.Delete(n.Subnets, i, i+1)
		return nil
	})
}

func (a *API) networkAddRoute(r *http.Request, id int64) (int, any, *apiError) {
	return networkAction(a, r, id, "add_route", func(s *Store, n *schema.Network, req *schema.NetworkActionAddRouteRequest) *apiError {
		rt := schema.NetworkRoute{Destination: req.Destination, Gateway: req.Gateway}
		if e := checkRoute(n, rt); e != nil {
			return e
		}
		if slices.Contains(n.Routes, rt) {
			return errUniqueness("destination")
		}
		n.Routes = append(n.Routes, rt)
		return nil
	})
}

func (a *API) networkDeleteRoute(r *http.Request, id int64) (int, any, *apiError) {
	return networkAction(a, r, id, "delete_route", func(s *Store, n *schema.Network, req *schema.NetworkActionDeleteRouteRequest) *apiError {
		rt := schema.NetworkRoute{Destination: req.Destination, Gateway: req.Gateway}
		i := slices.Index(n.Routes, rt)
		if i < 0 {
			return errNotFound("route")
		}
		n.Routes = slices.Delete(n.Routes, i, i+1)
		return nil
	})
}

func (a *API) networkChangeIPRange(r *http.Request, id int64) (int, any, *apiError) {
	return networkAction(a, r, id, "change_ip_range", func(s *Store, n *schema.Network, req *schema.NetworkActionChangeIPRangeRequest) *apiError {
		p, e := parseRange("ip_range", req.IPRange)
		if e != nil {
			return e
		}
		old := netip.MustParsePrefix(n.IPRange)
		if p.Bits() > old.Bits() || !p.Contains(old.Addr()) {
			return errInvalid("ip_range", "the range can only grow and must contain the current range")
		}
		if !isPrivate(p) {
			return errInvalid("ip_range", "must be an RFC 1918 private range")
		}
		n.IPRange = p.String()
		for i := range n.Subnets {
			n.Subnets[i].Gateway = gatewayOf(n.IPRange)
		}
		return nil
	})
}

func (a *API) networkChangeProtection(r *http.Request, id int64) (int, any, *apiError) {
	return networkAction(a, r, id, "change_protection", func(s *Store, n *schema.Network, req *schema.NetworkActionChangeProtectionRequest) *apiError {
		if req.Delete != nil {
			n.Protection.Delete = *req.Delete
		}
		return nil
	})
}
