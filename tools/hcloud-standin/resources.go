package main

// Lists and reads of every collection, actions, and the simpler resources: SSH keys, placement groups,
// networks (with subnets and routes) and firewalls.

import (
	"cmp"
	"crypto/md5"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"golang.org/x/crypto/ssh"
)

// ---------------------------------------------------------------------------------------------- reading

func byID[T any](id func(T) int64) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(id(a), id(b)) }
}

func listResult[T any](r *http.Request, key string, items []T, fields sortFields[T]) (int, any, *apiError) {
	if e := sortItems(r, items, fields); e != nil {
		return 0, nil, e
	}
	page, meta, e := paginate(r, items)
	if e != nil {
		return 0, nil, e
	}
	if page == nil {
		page = []T{}
	}
	return http.StatusOK, map[string]any{key: page, "meta": meta}, nil
}

func filter[T any](items []T, keep func(T) bool) []T {
	out := []T{}
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

func named[T any](id func(T) int64, name func(T) string, created func(T) time.Time) sortFields[T] {
	f := sortFields[T]{"id": byID(id), "name": func(a, b T) int { return strings.Compare(name(a), name(b)) }}
	if created != nil {
		f["created"] = func(a, b T) int { return created(a).Compare(created(b)) }
	}
	return f
}

func (a *API) list(r *http.Request, res string) (int, any, *apiError) {
	q := r.URL.Query()
	var sel []selectorTerm
	if v := q.Get("label_selector"); v != "" {
		var e *apiError
		if sel, e = parseSelector(v); e != nil {
			return 0, nil, e
		}
	}
	name := q.Get("name")
	nameOK := func(n string) bool { return name == "" || n == name }
	in := func(v string, key string) bool { return len(q[key]) == 0 || slices.Contains(q[key], v) }
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	switch res {
	case "locations":
		return listResult(r, res, filter(slices.Clone(locations), func(l schema.Location) bool { return nameOK(l.Name) }),
			named(func(l schema.Location) int64 { return l.ID }, func(l schema.Location) string { return l.Name }, nil))
	case "datacenters":
		return listResult(r, res, filter(datacenters(), func(d schema.Datacenter) bool { return nameOK(d.Name) }),
			named(func(d schema.Datacenter) int64 { return d.ID }, func(d schema.Datacenter) string { return d.Name }, nil))
	case "server_types":
		return listResult(r, res, filter(slices.Clone(serverTypes), func(t schema.ServerType) bool { return nameOK(t.Name) }),
			named(func(t schema.ServerType) int64 { return t.ID }, func(t schema.ServerType) string { return t.Name }, nil))
	case "images":
		return listResult(r, res, filter(slices.Clone(images), func(i schema.Image) bool {
			return nameOK(*i.Name) && in(i.Type, "type") && in(i.Architecture, "architecture") && in(i.Status, "status") &&
				q.Get("bound_to") == "" && matchSelector(sel, i.Labels)
		}), named(func(i schema.Image) int64 { return i.ID }, func(i schema.Image) string { return *i.Name },
			func(i schema.Image) time.Time { return *i.Created }))
	case "ssh_keys":
		var out []schema.SSHKey
		for _, id := range sortedIDs(s.d.SSHKeys) {
			k := s.d.SSHKeys[id]
			if nameOK(k.Name) && matchSelector(sel, k.Labels) && (q.Get("fingerprint") == "" || q.Get("fingerprint") == k.Fingerprint) {
				out = append(out, *k)
			}
		}
		return listResult(r, res, out, named(func(k schema.SSHKey) int64 { return k.ID }, func(k schema.SSHKey) string { return k.Name },
			func(k schema.SSHKey) time.Time { return k.Created }))
	case "placement_groups":
		var out []schema.PlacementGroup
		for _, id := range sortedIDs(s.d.PlacementGroups) {
			pg := s.renderPlacementGroup(s.d.PlacementGroups[id])
			if nameOK(pg.Name) && matchSelector(sel, pg.Labels) && in(pg.Type, "type") {
				out = append(out, pg)
			}
		}
		return listResult(r, res, out, named(func(p schema.PlacementGroup) int64 { return p.ID },
			func(p schema.PlacementGroup) string { return p.Name }, func(p schema.PlacementGroup) time.Time { return p.Created }))
	case "networks":
		var out []schema.Network
		for _, id := range sortedIDs(s.d.Networks) {
			n := s.renderNetwork(s.d.Networks[id])
			if nameOK(n.Name) && matchSelector(sel, n.Labels) {
				out = append(out, n)
			}
		}
		return listResult(r, res, out, named(func(n schema.Network) int64 { return n.ID }, func(n schema.Network) string { return n.Name },
			func(n schema.Network) time.Time { return n.Created }))
	case "firewalls":
		var out []schema.Firewall
		for _, id := range sortedIDs(s.d.Firewalls) {
			f := s.renderFirewall(s.d.Firewalls[id])
			if nameOK(f.Name) && matchSelector(sel, f.Labels) {
				out = append(out, f)
			}
		}
		return listResult(r, res, out, named(func(f schema.Firewall) int64 { return f.ID }, func(f schema.Firewall) string { return f.Name },
			func(f schema.Firewall) time.Time { return f.Created }))
	case "servers":
		var out []schema.Server
		for _, id := range sortedIDs(s.d.Servers) {
			sv := s.renderServer(s.d.Servers[id])
			if nameOK(sv.Name) && matchSelector(sel, sv.Labels) && in(sv.Status, "status") {
				out = append(out, sv)
			}
		}
		f := named(func(x schema.Server) int64 { return x.ID }, func(x schema.Server) string { return x.Name },
			func(x schema.Server) time.Time { return x.Created })
		return listResult(r, res, out, f)
	}
	return notFoundRoute()
}

func (a *API) get(res string, id int64) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	switch res {
	case "locations":
		for _, l := range locations {
			if l.ID == id {
				return 200, map[string]any{"location": l}, nil
			}
		}
		return 0, nil, errNotFound("location")
	case "datacenters":
		for _, d := range datacenters() {
			if d.ID == id {
				return 200, map[string]any{"datacenter": d}, nil
			}
		}
		return 0, nil, errNotFound("datacenter")
	case "server_types":
		if t, ok := findServerType(schema.IDOrName{ID: id}); ok {
			return 200, map[string]any{"server_type": t}, nil
		}
		return 0, nil, errNotFound("server type")
	case "images":
		if i, ok := findImage(schema.IDOrName{ID: id}); ok {
			return 200, map[string]any{"image": i}, nil
		}
		return 0, nil, errNotFound("image")
	case "ssh_keys":
		if k, ok := s.d.SSHKeys[id]; ok {
			return 200, map[string]any{"ssh_key": k}, nil
		}
		return 0, nil, errNotFound("SSH key")
	case "placement_groups":
		if p, ok := s.d.PlacementGroups[id]; ok {
			return 200, map[string]any{"placement_group": s.renderPlacementGroup(p)}, nil
		}
		return 0, nil, errNotFound("placement group")
	case "networks":
		if n, ok := s.d.Networks[id]; ok {
			return 200, map[string]any{"network": s.renderNetwork(n)}, nil
		}
		return 0, nil, errNotFound("network")
	case "firewalls":
		if f, ok := s.d.Firewalls[id]; ok {
			return 200, map[string]any{"firewall": s.renderFirewall(f)}, nil
		}
		return 0, nil, errNotFound("firewall")
	case "servers":
		if sv, ok := s.d.Servers[id]; ok {
			return 200, map[string]any{"server": s.renderServer(sv)}, nil
		}
		return 0, nil, errNotFound("server")
	}
	return notFoundRoute()
}

// ----------------------------------------------------------------------------------------------- actions

// resourceType is the action resource type of a collection ("servers" -> "server").
func resourceType(res string) string {
	return strings.TrimSuffix(res, "s")
}

func actionConcerns(a *schema.Action, res string, id int64) bool {
	if res == "" {
		return true
	}
	for _, r := range a.Resources {
		if r.Type == resourceType(res) && (id == 0 || r.ID == id) {
			return true
		}
	}
	return false
}

func (a *API) listActions(r *http.Request, res string, id int64) (int, any, *apiError) {
	q := r.URL.Query()
	var ids []int64
	for _, v := range q["id"] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, nil, errInvalid("id", "must be an integer")
		}
		ids = append(ids, n)
	}
	for _, st := range q["status"] {
		if st != "running" && st != "success" && st != "error" {
			return 0, nil, errInvalid("status", "must be running, success or error")
		}
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != 0 && !s.exists(res, id) {
		return 0, nil, errNotFound(strings.ReplaceAll(resourceType(res), "_", " "))
	}
	var out []schema.Action
	for _, aid := range sortedIDs(s.d.Actions) {
		act := s.d.Actions[aid]
		if len(ids) > 0 && !slices.Contains(ids, act.ID) {
			continue
		}
		if len(q["status"]) > 0 && !slices.Contains(q["status"], act.Status) {
			continue
		}
		if actionConcerns(act, res, id) {
			out = append(out, *act)
		}
	}
	fields := sortFields[schema.Action]{
		"id":       byID(func(x schema.Action) int64 { return x.ID }),
		"command":  func(x, y schema.Action) int { return strings.Compare(x.Command, y.Command) },
		"status":   func(x, y schema.Action) int { return strings.Compare(x.Status, y.Status) },
		"started":  func(x, y schema.Action) int { return x.Started.Compare(y.Started) },
		"finished": func(x, y schema.Action) int { return cmp.Compare(finishedAt(x), finishedAt(y)) },
	}
	return listResult(r, "actions", out, fields)
}

func (s *Store) exists(res string, id int64) bool {
	var ok bool
	switch res {
	case "servers":
		_, ok = s.d.Servers[id]
	case "networks":
		_, ok = s.d.Networks[id]
	case "firewalls":
		_, ok = s.d.Firewalls[id]
	case "placement_groups":
		_, ok = s.d.PlacementGroups[id]
	case "ssh_keys":
		_, ok = s.d.SSHKeys[id]
	case "images":
		_, ok = findImage(schema.IDOrName{ID: id})
	}
	return ok
}

func finishedAt(a schema.Action) int64 {
	if a.Finished == nil {
		return 0
	}
	return a.Finished.Unix()
}

func (a *API) getAction(idText, res string, _ int64) (int, any, *apiError) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, errInvalid("id", "must be a positive integer")
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	act, ok := s.d.Actions[id]
	if !ok || !actionConcerns(act, res, 0) {
		return 0, nil, errNotFound("action")
	}
	return 200, map[string]any{"action": act}, nil
}

// ---------------------------------------------------------------------------------------------- SSH keys

func fingerprint(pub ssh.PublicKey) string {
	sum := md5.Sum(pub.Marshal())
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

func (a *API) createSSHKey(r *http.Request) (int, any, *apiError) {
	var req schema.SSHKeyCreateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if strings.TrimSpace(req.Name) == "" {
		return 0, nil, errInvalid("name", "Missing data for required field.")
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
	if err != nil {
		return 0, nil, errInvalid("public_key", "invalid public key")
	}
	labels := copyLabels(req.Labels)
	if e := validateLabels(labels); e != nil {
		return 0, nil, e
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := fingerprint(pub)
	for _, k := range s.d.SSHKeys {
		if k.Name == req.Name {
			return 0, nil, errUniqueness("name")
		}
		if k.Fingerprint == fp {
			return 0, nil, errUniqueness("public_key")
		}
	}
	k := &schema.SSHKey{ID: s.nextID("ssh_keys"), Name: req.Name, Fingerprint: fp, PublicKey: req.PublicKey,
		Labels: labels, Created: s.now()}
	s.d.SSHKeys[k.ID] = k
	s.save()
	return http.StatusCreated, map[string]any{"ssh_key": k}, nil
}

func (a *API) updateSSHKey(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.SSHKeyUpdateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Labels != nil {
		if e := validateLabels(*req.Labels); e != nil {
			return 0, nil, e
		}
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.d.SSHKeys[id]
	if !ok {
		return 0, nil, errNotFound("SSH key")
	}
	if req.Name != "" && req.Name != k.Name {
		for _, o := range s.d.SSHKeys {
			if o.Name == req.Name {
				return 0, nil, errUniqueness("name")
			}
		}
		k.Name = req.Name
	}
	if req.Labels != nil {
		k.Labels = copyLabels(req.Labels)
	}
	s.save()
	return 200, map[string]any{"ssh_key": k}, nil
}

func (a *API) deleteSSHKey(id int64) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.d.SSHKeys[id]; !ok {
		return 0, nil, errNotFound("SSH key")
	}
	delete(s.d.SSHKeys, id)
	s.save()
	return http.StatusNoContent, nil, nil
}

// ------------------------------------------------------------------------------------- placement groups

const spreadGroupLimit = 10

func (s *Store) renderPlacementGroup(p *schema.PlacementGroup) schema.PlacementGroup {
	out := *p
	out.Servers = []int64{}
	for _, id := range sortedIDs(s.d.Servers) {
		if s.d.Servers[id].PlacementGroupID == p.ID {
			out.Servers = append(out.Servers, id)
		}
	}
	return out
}

func (a *API) createPlacementGroup(r *http.Request) (int, any, *apiError) {
	var req schema.PlacementGroupCreateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if strings.TrimSpace(req.Name) == "" {
		return 0, nil, errInvalid("name", "Missing data for required field.")
	}
	if req.Type != "spread" {
		return 0, nil, errInvalid("type", "must be one of: spread")
	}
	labels := copyLabels(req.Labels)
	if e := validateLabels(labels); e != nil {
		return 0, nil, e
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.d.PlacementGroups {
		if p.Name == req.Name {
			return 0, nil, errUniqueness("name")
		}
	}
	p := &schema.PlacementGroup{ID: s.nextID("placement_groups"), Name: req.Name, Labels: labels, Created: s.now(), Type: req.Type}
	s.d.PlacementGroups[p.ID] = p
	s.save()
	return http.StatusCreated, map[string]any{"placement_group": s.renderPlacementGroup(p), "action": nil}, nil
}

func (a *API) updatePlacementGroup(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.PlacementGroupUpdateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Labels != nil {
		if e := validateLabels(*req.Labels); e != nil {
			return 0, nil, e
		}
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.d.PlacementGroups[id]
	if !ok {
		return 0, nil, errNotFound("placement group")
	}
	if req.Name != nil && *req.Name != p.Name {
		if strings.TrimSpace(*req.Name) == "" {
			return 0, nil, errInvalid("name", "must not be empty")
		}
		for _, o := range s.d.PlacementGroups {
			if o.Name == *req.Name {
				return 0, nil, errUniqueness("name")
			}
		}
		p.Name = *req.Name
	}
	if req.Labels != nil {
		p.Labels = copyLabels(req.Labels)
	}
	s.save()
	return 200, map[string]any{"placement_group": s.renderPlacementGroup(p)}, nil
}

func (a *API) deletePlacementGroup(id int64) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.d.PlacementGroups[id]; !ok {
		return 0, nil, errNotFound("placement group")
	}
	for _, sv := range s.d.Servers {
		if sv.PlacementGroupID == id {
			sv.PlacementGroupID = 0
		}
	}
	delete(s.d.PlacementGroups, id)
	s.save()
	return http.StatusNoContent, nil, nil
}

// --------------------------------------------------------------------------------------------- networks

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
			return errCode(http.StatusUnprocessableEntity, "no_subnet_available", "no free /24 left in the network")
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
		return 0, nil, e
	}
	if strings.TrimSpace(req.Name) == "" {
		return 0, nil, errInvalid("name", "Missing data for required field.")
	}
	p, e := parseRange("ip_range", req.IPRange)
	if e != nil {
		return 0, nil, e
	}
	if !isPrivate(p) || p.Bits() > 24 {
		return 0, nil, errInvalid("ip_range", "must be an RFC 1918 private range of at least /24")
	}
	labels := copyLabels(req.Labels)
	if e := validateLabels(labels); e != nil {
		return 0, nil, e
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.d.Networks {
		if n.Name == req.Name {
			return 0, nil, errUniqueness("name")
		}
	}
	n := &schema.Network{ID: 0, Name: req.Name, Created: s.now(), IPRange: p.String(), Subnets: []schema.NetworkSubnet{},
		Routes: []schema.NetworkRoute{}, Labels: labels, ExposeRoutesToVSwitch: req.ExposeRoutesToVSwitch}
	for _, sub := range req.Subnets {
		sub := sub
		if e := s.checkSubnet(n, &sub); e != nil {
			return 0, nil, e
		}
		n.Subnets = append(n.Subnets, sub)
	}
	for _, rt := range req.Routes {
		if e := checkRoute(n, rt); e != nil {
			return 0, nil, e
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

func (a *API) updateNetwork(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.NetworkUpdateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Labels != nil {
		if e := validateLabels(*req.Labels); e != nil {
			return 0, nil, e
		}
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.d.Networks[id]
	if !ok {
		return 0, nil, errNotFound("network")
	}
	if req.Name != "" && req.Name != n.Name {
		for _, o := range s.d.Networks {
			if o.Name == req.Name {
				return 0, nil, errUniqueness("name")
			}
		}
		n.Name = req.Name
	}
	if req.Labels != nil {
		n.Labels = copyLabels(req.Labels)
	}
	if req.ExposeRoutesToVSwitch != nil {
		n.ExposeRoutesToVSwitch = *req.ExposeRoutesToVSwitch
	}
	s.save()
	return 200, map[string]any{"network": s.renderNetwork(n)}, nil
}

func (a *API) deleteNetwork(id int64) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.d.Networks[id]
	if !ok {
		return 0, nil, errNotFound("network")
	}
	if n.Protection.Delete {
		return 0, nil, errCode(http.StatusLocked, "protected", "network is delete protected")
	}
	// Attached servers are detached in the background, as the API documents.
	for _, sid := range sortedIDs(s.d.Servers) {
		rec := s.d.Servers[sid]
		kept := slices.DeleteFunc(slices.Clone(rec.Server.PrivateNet), func(pn schema.ServerPrivateNet) bool { return pn.Network == id })
		if len(kept) != len(rec.Server.PrivateNet) {
			rec.Server.PrivateNet = kept
			ips := s.hostPrivateIPs(rec)
			s.async(func() error { return s.hosts.SetNetworks(bg(), sid, ips) }, func(err error) {
				if err != nil {
					s.log.Printf("detaching server %d from deleted network %d: %v", sid, id, err)
				}
			})
		}
	}
	delete(s.d.Networks, id)
	s.save()
	return http.StatusNoContent, nil, nil
}

var networkActions = map[string]func(a *API, r *http.Request, id int64) (int, any, *apiError){
	"add_subnet":        (*API).networkAddSubnet,
	"delete_subnet":     (*API).networkDeleteSubnet,
	"add_route":         (*API).networkAddRoute,
	"delete_route":      (*API).networkDeleteRoute,
	"change_ip_range":   (*API).networkChangeIPRange,
	"change_protection": (*API).networkChangeProtection,
}

// networkAction decodes req, finds the network and runs fn on it, all under the lock; it answers with a
// finished action (network changes take effect at once here).
func networkAction[T any](a *API, r *http.Request, id int64, command string, fn func(s *Store, n *schema.Network, req *T) *apiError) (int, any, *apiError) {
	var req T
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.d.Networks[id]
	if !ok {
		return 0, nil, errNotFound("network")
	}
	if e := fn(s, n, &req); e != nil {
		return 0, nil, e
	}
	act := s.newAction(command, false, ref("network", id))
	s.save()
	return http.StatusCreated, map[string]any{"action": act}, nil
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
					return errCode(http.StatusUnprocessableEntity, "service_error", "servers are attached to this subnet")
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

// -------------------------------------------------------------------------------------------- firewalls

func (s *Store) renderFirewall(f *schema.Firewall) schema.Firewall {
	out := *f
	out.Rules = slices.Clone(f.Rules)
	out.AppliedTo = []schema.FirewallResource{}
	for _, res := range f.AppliedTo {
		if res.Type == "label_selector" {
			terms, _ := parseSelector(res.LabelSelector.Selector)
			res.AppliedToResources = []schema.FirewallResource{}
			for _, id := range sortedIDs(s.d.Servers) {
				if matchSelector(terms, s.d.Servers[id].Server.Labels) {
					res.AppliedToResources = append(res.AppliedToResources, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
				}
			}
		}
		out.AppliedTo = append(out.AppliedTo, res)
	}
	return out
}

var firewallProtocols = map[string]bool{"tcp": true, "udp": true, "icmp": true, "esp": true, "gre": true}

func checkRules(reqs []schema.FirewallRuleRequest) ([]schema.FirewallRule, *apiError) {
	rules := []schema.FirewallRule{}
	for i, rr := range reqs {
		field := func(f string) string { return fmt.Sprintf("rules[%d].%s", i, f) }
		if rr.Direction != "in" && rr.Direction != "out" {
			return nil, errInvalid(field("direction"), "must be one of: in, out")
		}
		if !firewallProtocols[rr.Protocol] {
			return nil, errInvalid(field("protocol"), "must be one of: tcp, udp, icmp, esp, gre")
		}
		if rr.Protocol == "tcp" || rr.Protocol == "udp" {
			if rr.Port == nil || !validPort(*rr.Port) {
				return nil, errInvalid(field("port"), "tcp and udp rules need a port (80), a range (80-85) or any")
			}
		} else if rr.Port != nil {
			return nil, errInvalid(field("port"), "only tcp and udp rules have a port")
		}
		ips := rr.SourceIPs
		name := "source_ips"
		if rr.Direction == "out" {
			ips, name = rr.DestinationIPs, "destination_ips"
		}
		if len(ips) == 0 {
			return nil, errInvalid(field(name), "must list at least one network")
		}
		for _, c := range append(slices.Clone(rr.SourceIPs), rr.DestinationIPs...) {
			if _, _, err := net.ParseCIDR(c); err != nil {
				return nil, errInvalid(field(name), fmt.Sprintf("%q is not a network in CIDR notation", c))
			}
		}
		if rr.Description != nil && len(*rr.Description) > 255 {
			return nil, errInvalid(field("description"), "at most 255 characters")
		}
		rule := schema.FirewallRule{Direction: rr.Direction, SourceIPs: rr.SourceIPs, DestinationIPs: rr.DestinationIPs,
			Protocol: rr.Protocol, Port: rr.Port, Description: rr.Description}
		if rule.SourceIPs == nil {
			rule.SourceIPs = []string{}
		}
		if rule.DestinationIPs == nil {
			rule.DestinationIPs = []string{}
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

func validPort(p string) bool {
	if p == "any" {
		return true
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err1 := strconv.Atoi(lo)
	if err1 != nil || a < 1 || a > 65535 {
		return false
	}
	if !isRange {
		return true
	}
	b, err2 := strconv.Atoi(hi)
	return err2 == nil && b >= a && b <= 65535
}

// applyFirewall applies f to the resources (servers or label selectors); one apply_firewall action each.
func (s *Store) applyFirewall(f *schema.Firewall, resources []schema.FirewallResource) ([]*schema.Action, *apiError) {
	var actions []*schema.Action
	for _, res := range resources {
		switch res.Type {
		case "server":
			if res.Server == nil {
				return nil, errInvalid("apply_to", "a server resource needs server.id")
			}
			if _, ok := s.d.Servers[res.Server.ID]; !ok {
				return nil, errCode(http.StatusUnprocessableEntity, "firewall_resource_not_found", fmt.Sprintf("server %d not found", res.Server.ID))
			}
			if slices.ContainsFunc(f.AppliedTo, func(o schema.FirewallResource) bool { return o.Type == "server" && o.Server.ID == res.Server.ID }) {
				return nil, errCode(http.StatusUnprocessableEntity, "firewall_already_applied", fmt.Sprintf("firewall %d is already applied to server %d", f.ID, res.Server.ID))
			}
			f.AppliedTo = append(f.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: res.Server.ID}})
			actions = append(actions, s.newAction("apply_firewall", false, ref("firewall", f.ID), ref("server", res.Server.ID)))
		case "label_selector":
			if res.LabelSelector == nil {
				return nil, errInvalid("apply_to", "a label_selector resource needs label_selector.selector")
			}
			if _, e := parseSelector(res.LabelSelector.Selector); e != nil {
				return nil, e
			}
			if slices.ContainsFunc(f.AppliedTo, func(o schema.FirewallResource) bool {
				return o.Type == "label_selector" && o.LabelSelector.Selector == res.LabelSelector.Selector
			}) {
				return nil, errCode(http.StatusUnprocessableEntity, "firewall_already_applied", "firewall is already applied to this label selector")
			}
			f.AppliedTo = append(f.AppliedTo, schema.FirewallResource{Type: "label_selector", LabelSelector: &schema.FirewallResourceLabelSelector{Selector: res.LabelSelector.Selector}})
			actions = append(actions, s.newAction("apply_firewall", false, ref("firewall", f.ID)))
		default:
			return nil, errInvalid("apply_to", "type must be server or label_selector")
		}
	}
	return actions, nil
}

func actionList(actions []*schema.Action) []schema.Action {
	out := []schema.Action{}
	for _, a := range actions {
		out = append(out, *a)
	}
	return out
}

func (a *API) createFirewall(r *http.Request) (int, any, *apiError) {
	var req schema.FirewallCreateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if strings.TrimSpace(req.Name) == "" {
		return 0, nil, errInvalid("name", "Missing data for required field.")
	}
	rules, e := checkRules(req.Rules)
	if e != nil {
		return 0, nil, e
	}
	labels := copyLabels(req.Labels)
	if e := validateLabels(labels); e != nil {
		return 0, nil, e
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.d.Firewalls {
		if f.Name == req.Name {
			return 0, nil, errUniqueness("name")
		}
	}
	f := &schema.Firewall{ID: s.nextID("firewalls"), Name: req.Name, Labels: labels, Created: s.now(), Rules: rules, AppliedTo: []schema.FirewallResource{}}
	actions, e := s.applyFirewall(f, req.ApplyTo)
	if e != nil {
		return 0, nil, e
	}
	s.d.Firewalls[f.ID] = f
	s.save()
	return http.StatusCreated, map[string]any{"firewall": s.renderFirewall(f), "actions": actionList(actions)}, nil
}

func (a *API) updateFirewall(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.FirewallUpdateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Labels != nil {
		if e := validateLabels(*req.Labels); e != nil {
			return 0, nil, e
		}
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.d.Firewalls[id]
	if !ok {
		return 0, nil, errNotFound("firewall")
	}
	if req.Name != nil && *req.Name != f.Name {
		for _, o := range s.d.Firewalls {
			if o.Name == *req.Name {
				return 0, nil, errUniqueness("name")
			}
		}
		f.Name = *req.Name
	}
	if req.Labels != nil {
		f.Labels = copyLabels(req.Labels)
	}
	s.save()
	return 200, map[string]any{"firewall": s.renderFirewall(f)}, nil
}

func (a *API) deleteFirewall(id int64) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.d.Firewalls[id]
	if !ok {
		return 0, nil, errNotFound("firewall")
	}
	if len(f.AppliedTo) > 0 {
		return 0, nil, errCode(http.StatusUnprocessableEntity, "resource_in_use", "firewall must not be in use to be deleted")
	}
	delete(s.d.Firewalls, id)
	s.save()
	return http.StatusNoContent, nil, nil
}

var firewallActions = map[string]func(a *API, r *http.Request, id int64) (int, any, *apiError){
	"set_rules": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.FirewallActionSetRulesRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		rules, e := checkRules(req.Rules)
		if e != nil {
			return 0, nil, e
		}
		s := a.st
		s.mu.Lock()
		defer s.mu.Unlock()
		f, ok := s.d.Firewalls[id]
		if !ok {
			return 0, nil, errNotFound("firewall")
		}
		f.Rules = rules
		actions := []*schema.Action{s.newAction("set_firewall_rules", false, ref("firewall", id))}
		for _, res := range s.renderFirewall(f).AppliedTo {
			if res.Type == "server" {
				actions = append(actions, s.newAction("apply_firewall", false, ref("firewall", id), ref("server", res.Server.ID)))
			}
		}
		s.save()
		return http.StatusCreated, map[string]any{"actions": actionList(actions)}, nil
	},
	"apply_to_resources": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.FirewallActionApplyToResourcesRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		s := a.st
		s.mu.Lock()
		defer s.mu.Unlock()
		f, ok := s.d.Firewalls[id]
		if !ok {
			return 0, nil, errNotFound("firewall")
		}
		applied := slices.Clone(f.AppliedTo)
		actions, e := s.applyFirewall(f, req.ApplyTo)
		if e != nil {
			f.AppliedTo = applied // all or nothing
			return 0, nil, e
		}
		s.save()
		return http.StatusCreated, map[string]any{"actions": actionList(actions)}, nil
	},
	"remove_from_resources": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.FirewallActionRemoveFromResourcesRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		s := a.st
		s.mu.Lock()
		defer s.mu.Unlock()
		f, ok := s.d.Firewalls[id]
		if !ok {
			return 0, nil, errNotFound("firewall")
		}
		var actions []*schema.Action
		kept := slices.Clone(f.AppliedTo)
		for _, res := range req.RemoveFrom {
			var i int
			switch {
			case res.Type == "server" && res.Server != nil:
				if _, ok := s.d.Servers[res.Server.ID]; !ok {
					return 0, nil, errCode(http.StatusUnprocessableEntity, "firewall_resource_not_found", fmt.Sprintf("server %d not found", res.Server.ID))
				}
				i = slices.IndexFunc(kept, func(o schema.FirewallResource) bool { return o.Type == "server" && o.Server.ID == res.Server.ID })
			case res.Type == "label_selector" && res.LabelSelector != nil:
				i = slices.IndexFunc(kept, func(o schema.FirewallResource) bool {
					return o.Type == "label_selector" && o.LabelSelector.Selector == res.LabelSelector.Selector
				})
			default:
				return 0, nil, errInvalid("remove_from", "type must be server (with server.id) or label_selector (with label_selector.selector)")
			}
			if i < 0 {
				return 0, nil, errCode(http.StatusUnprocessableEntity, "firewall_resource_not_found", "the firewall is not applied to this resource")
			}
			kept = slices.Delete(kept, i, i+1)
			refs := []schema.ActionResourceReference{ref("firewall", id)}
			if res.Type == "server" {
				refs = append(refs, ref("server", res.Server.ID))
			}
			actions = append(actions, s.newAction("remove_firewall", false, refs...))
		}
		f.AppliedTo = kept
		s.save()
		return http.StatusCreated, map[string]any{"actions": actionList(actions)}, nil
	},
}
