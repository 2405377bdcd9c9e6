package main

// Servers: create (with networks, labels, SSH keys, placement group, firewalls, user data), read, update,
// delete, and their actions. A server is a real local host (see hosts.go); host work runs in the
// background behind a running action, and the server is locked (423) meanwhile, as on the real API.

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func bg() context.Context { return context.Background() }

var hostnameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

const maxUserData = 32 * 1024

func (s *Store) renderServer(rec *serverRec) schema.Server {
	out := rec.Server
	out.Locked = rec.Busy > 0
	out.PrivateNet = slices.Clone(rec.Server.PrivateNet)
	if out.PrivateNet == nil {
		out.PrivateNet = []schema.ServerPrivateNet{}
	}
	out.Labels = copyLabels(&rec.Server.Labels)
	out.PublicNet.Firewalls = []schema.ServerFirewall{}
	for _, fid := range sortedIDs(s.d.Firewalls) {
		for _, res := range s.renderFirewall(s.d.Firewalls[fid]).AppliedTo {
			hit := res.Type == "server" && res.Server.ID == rec.Server.ID
			for _, sub := range res.AppliedToResources {
				hit = hit || (sub.Server != nil && sub.Server.ID == rec.Server.ID)
			}
			if hit && !slices.ContainsFunc(out.PublicNet.Firewalls, func(f schema.ServerFirewall) bool { return f.ID == fid }) {
				out.PublicNet.Firewalls = append(out.PublicNet.Firewalls, schema.ServerFirewall{ID: fid, Status: "applied"})
			}
		}
	}
	out.PlacementGroup = nil
	if pg, ok := s.d.PlacementGroups[rec.PlacementGroupID]; ok {
		r := s.renderPlacementGroup(pg)
		out.PlacementGroup = &r
	}
	return out
}

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
		return "", errCode(http.StatusUnprocessableEntity, "no_subnet_available",
			fmt.Sprintf("network %d has no subnet in network zone %s", n.ID, zone))
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
			return "", errCode(http.StatusUnprocessableEntity, "ip_not_available", fmt.Sprintf("IP %s is not available", ip))
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
	return "", errCode(http.StatusUnprocessableEntity, "no_subnet_available", "no free IP left in the network's subnets")
}

// publicIPv4 picks the first free address of the public range (.11 to .254; .1 is the bridge's).
func (s *Store) publicIPv4() (string, bool) {
	used := map[string]bool{}
	for _, rec := range s.d.Servers {
		used[rec.Server.PublicNet.IPv4.IP] = true
	}
	for i := 11; i <= 254; i++ {
		ip := fmt.Sprintf("%s.%d", s.publicPrefix, i)
		if !used[ip] {
			return ip, true
		}
	}
	return "", false
}

func reverseDNS(ip string) string {
	o := strings.Split(ip, ".")
	slices.Reverse(o)
	return "static." + strings.Join(o, ".") + ".clients.your-server.de"
}

func (a *API) createServer(r *http.Request) (int, any, *apiError) {
	var req schema.ServerCreateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Name == "" {
		return 0, nil, errInvalid("name", "Missing data for required field.")
	}
	if len(req.Name) > 253 || !hostnameRe.MatchString(req.Name) {
		return 0, nil, errInvalid("name", "must be a valid hostname (RFC 1123)")
	}
	st, ok := findServerType(req.ServerType)
	if !ok {
		return 0, nil, errInvalid("server_type", "server type not found")
	}
	img, ok := findImage(req.Image)
	if !ok {
		return 0, nil, errInvalid("image", "image not found")
	}
	if img.Architecture != st.Architecture {
		return 0, nil, errInvalid("image", fmt.Sprintf("image architecture %s does not match server type architecture %s", img.Architecture, st.Architecture))
	}
	locName := req.Location
	if locName == "" && req.Datacenter != "" {
		for _, dc := range datacenters() {
			if dc.Name == req.Datacenter {
				locName = dc.Location.Name
			}
		}
		if locName == "" {
			return 0, nil, errInvalid("datacenter", "datacenter not found")
		}
	}
	if locName == "" {
		locName = "fsn1"
	}
	loc, ok := findLocation(locName)
	if !ok {
		return 0, nil, errInvalid("location", "location not found")
	}
	labels := copyLabels(req.Labels)
	if e := validateLabels(labels); e != nil {
		return 0, nil, e
	}
	if len(req.UserData) > maxUserData {
		return 0, nil, errInvalid("user_data", "at most 32 KiB")
	}
	if len(req.Volumes) > 0 {
		return 0, nil, errInvalid("volumes", "the stand-in has no volumes")
	}
	ipv4, ipv6 := true, true
	if req.PublicNet != nil {
		if req.PublicNet.IPv4ID != 0 || req.PublicNet.IPv6ID != 0 {
			return 0, nil, errInvalid("public_net", "the stand-in assigns its own primary IPs; existing primary IPs are not supported")
		}
		ipv4, ipv6 = req.PublicNet.EnableIPv4, req.PublicNet.EnableIPv6
	}
	if !ipv4 && !ipv6 && len(req.Networks) == 0 {
		return 0, nil, errInvalid("networks", "a server without public IPs needs a network")
	}
	start := req.StartAfterCreate == nil || *req.StartAfterCreate

	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.d.Servers {
		if o.Server.Name == req.Name {
			return 0, nil, errUniqueness("name")
		}
	}
	var keys []string
	for _, kid := range req.SSHKeys {
		k, ok := s.d.SSHKeys[kid]
		if !ok {
			return 0, nil, errInvalid("ssh_keys", fmt.Sprintf("SSH key %d not found", kid))
		}
		keys = append(keys, k.PublicKey)
	}
	for _, f := range req.Firewalls {
		if _, ok := s.d.Firewalls[f.Firewall]; !ok {
			return 0, nil, errInvalid("firewalls", fmt.Sprintf("firewall %d not found", f.Firewall))
		}
	}
	if req.PlacementGroup != 0 {
		pg, ok := s.d.PlacementGroups[req.PlacementGroup]
		if !ok {
			return 0, nil, errInvalid("placement_group", fmt.Sprintf("placement group %d not found", req.PlacementGroup))
		}
		if len(s.renderPlacementGroup(pg).Servers) >= spreadGroupLimit {
			return 0, nil, errCode(http.StatusUnprocessableEntity, "placement_error", "the spread placement group is full (10 servers)")
		}
	}
	id := s.nextID("servers")
	sv := schema.Server{ID: id, Name: req.Name, Status: "initializing", Created: s.now(), ServerType: st,
		IncludedTraffic: uint64(st.IncludedTraffic), Location: loc, Image: &img, Labels: labels, Volumes: []int64{},
		PrimaryDiskSize: st.Disk, LoadBalancers: []int64{}, PrivateNet: []schema.ServerPrivateNet{}}
	dc := datacenterOf(loc.Name)
	sv.Datacenter = &dc
	sv.PublicNet = schema.ServerPublicNet{FloatingIPs: []int64{}, Firewalls: []schema.ServerFirewall{},
		IPv6: schema.ServerPublicNetIPv6{DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}}
	if ipv4 {
		ip, ok := s.publicIPv4()
		if !ok {
			return 0, nil, errCode(http.StatusUnprocessableEntity, "resource_unavailable", "no public IPv4 address left in "+s.publicPrefix+".0/24")
		}
		sv.PublicNet.IPv4 = schema.ServerPublicNetIPv4{ID: s.nextID("primary_ips"), IP: ip, DNSPtr: reverseDNS(ip)}
	}
	if ipv6 {
		// Documentation range (RFC 3849): reported as the API would, not routed anywhere.
		sv.PublicNet.IPv6.ID = s.nextID("primary_ips")
		sv.PublicNet.IPv6.IP = fmt.Sprintf("2001:db8:0:%x::/64", sv.PublicNet.IPv6.ID%0x10000)
	}
	rec := &serverRec{Server: sv, PlacementGroupID: req.PlacementGroup, AuthorizedKeys: keys, UserData: req.UserData}
	for _, nid := range req.Networks {
		n, ok := s.d.Networks[nid]
		if !ok {
			return 0, nil, errInvalid("networks", fmt.Sprintf("network %d not found", nid))
		}
		ip, e := s.pickPrivateIP(n, loc.NetworkZone, "")
		if e != nil {
			return 0, nil, e
		}
		rec.Server.PrivateNet = append(rec.Server.PrivateNet, schema.ServerPrivateNet{Network: nid, IP: ip, AliasIPs: []string{}, MACAddress: macFor(id, nid)})
	}
	for _, f := range req.Firewalls {
		fw := s.d.Firewalls[f.Firewall]
		fw.AppliedTo = append(fw.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
	}
	s.d.Servers[id] = rec
	create := s.newAction("create_server", true, ref("server", id))
	var next []schema.Action
	var startAct *schema.Action
	if start {
		startAct = s.newAction("start_server", true, ref("server", id))
		next = append(next, *startAct)
	} else {
		next = []schema.Action{}
	}
	rec.Busy++
	spec := HostSpec{ID: id, Hostname: req.Name, PublicIP: sv.PublicNet.IPv4.IP, PrivateIPs: s.hostPrivateIPs(rec),
		AuthorizedKeys: keys, UserData: req.UserData}
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		err := s.hosts.Create(bg(), spec)
		s.mu.Lock()
		if err != nil {
			s.log.Printf("server %d: creating its host failed: %v", id, err)
			s.finishAction(create, &schema.ActionError{Code: "server_error", Message: "could not create the host"})
			if startAct != nil {
				s.finishAction(startAct, &schema.ActionError{Code: "server_error", Message: "could not create the host"})
			}
			rec.Server.Status = "off"
			rec.Busy--
			s.save()
			s.mu.Unlock()
			return
		}
		s.finishAction(create, nil)
		if startAct == nil {
			rec.Server.Status = "off"
			rec.Busy--
			s.save()
			s.mu.Unlock()
			return
		}
		rec.Server.Status = "starting"
		s.save()
		s.mu.Unlock()
		err = s.hosts.Start(bg(), id)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.log.Printf("server %d: booting its host failed: %v", id, err)
			s.finishAction(startAct, &schema.ActionError{Code: "server_error", Message: "could not start the host"})
			rec.Server.Status = "off"
		} else {
			s.finishAction(startAct, nil)
			rec.Server.Status = "running"
		}
		rec.Busy--
		s.save()
	}()
	s.save()
	return http.StatusCreated, map[string]any{"server": s.renderServer(rec), "action": create, "next_actions": next, "root_password": nil}, nil
}

// macFor is a stable locally administered MAC for a server's attachment to a network.
func macFor(serverID, networkID int64) string {
	return fmt.Sprintf("86:00:00:%02x:%02x:%02x", byte(networkID), byte(serverID>>8), byte(serverID))
}

func (a *API) updateServer(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerUpdateRequest
	if e := decode(r, &req); e != nil {
		return 0, nil, e
	}
	if req.Labels != nil {
		if e := validateLabels(*req.Labels); e != nil {
			return 0, nil, e
		}
	}
	if req.Name != "" && (len(req.Name) > 253 || !hostnameRe.MatchString(req.Name)) {
		return 0, nil, errInvalid("name", "must be a valid hostname (RFC 1123)")
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.d.Servers[id]
	if !ok {
		return 0, nil, errNotFound("server")
	}
	if req.Name != "" && req.Name != rec.Server.Name {
		for _, o := range s.d.Servers {
			if o.Server.Name == req.Name {
				return 0, nil, errUniqueness("name")
			}
		}
		rec.Server.Name = req.Name
	}
	if req.Labels != nil {
		rec.Server.Labels = copyLabels(req.Labels)
	}
	s.save()
	return 200, map[string]any{"server": s.renderServer(rec)}, nil
}

func errLocked() *apiError {
	return errCode(http.StatusLocked, "locked", "server is locked: another action is running")
}

func (a *API) deleteServer(id int64) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.d.Servers[id]
	if !ok {
		return 0, nil, errNotFound("server")
	}
	if rec.Server.Protection.Delete {
		return 0, nil, errCode(http.StatusLocked, "protected", "server is delete protected")
	}
	if rec.Busy > 0 {
		return 0, nil, errLocked()
	}
	act := s.newAction("delete_server", true, ref("server", id))
	rec.Busy++
	rec.Server.Status = "deleting"
	s.async(func() error { return s.hosts.Remove(bg(), id) }, func(err error) {
		rec.Busy--
		if err != nil {
			s.log.Printf("server %d: removing its host failed: %v", id, err)
			s.finishAction(act, &schema.ActionError{Code: "server_error", Message: "could not remove the host"})
			rec.Server.Status = "unknown"
			return
		}
		s.finishAction(act, nil)
		delete(s.d.Servers, id)
		for _, f := range s.d.Firewalls {
			f.AppliedTo = slices.DeleteFunc(f.AppliedTo, func(o schema.FirewallResource) bool { return o.Type == "server" && o.Server.ID == id })
		}
	})
	s.save()
	return http.StatusOK, map[string]any{"action": act}, nil
}

// serverAction runs one action on a server: check (under the lock) may refuse it; begin changes the state at
// once; work (outside the lock, may be nil) does the host part; end settles the state when work is done.
type serverStep struct {
	check func(s *Store, rec *serverRec) *apiError
	begin func(s *Store, rec *serverRec)
	work  func(id int64) error
	end   func(s *Store, rec *serverRec, err error)
}

func (a *API) runServerAction(id int64, command string, step serverStep, extraRefs ...schema.ActionResourceReference) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.d.Servers[id]
	if !ok {
		return 0, nil, errNotFound("server")
	}
	if rec.Busy > 0 {
		return 0, nil, errLocked()
	}
	if step.check != nil {
		if e := step.check(s, rec); e != nil {
			return 0, nil, e
		}
	}
	refs := append([]schema.ActionResourceReference{ref("server", id)}, extraRefs...)
	if step.begin != nil {
		step.begin(s, rec)
	}
	if step.work == nil {
		act := s.newAction(command, false, refs...)
		s.save()
		return http.StatusCreated, map[string]any{"action": act}, nil
	}
	act := s.newAction(command, true, refs...)
	rec.Busy++
	s.async(func() error { return step.work(id) }, func(err error) {
		rec.Busy--
		if step.end != nil {
			step.end(s, rec, err)
		}
		if err != nil {
			s.log.Printf("server %d: %s failed: %v", id, command, err)
			s.finishAction(act, &schema.ActionError{Code: "server_error", Message: command + " failed on the host"})
			return
		}
		s.finishAction(act, nil)
	})
	s.save()
	return http.StatusCreated, map[string]any{"action": act}, nil
}

func settle(ok, failed string) func(s *Store, rec *serverRec, err error) {
	return func(s *Store, rec *serverRec, err error) {
		if err != nil {
			rec.Server.Status = failed
		} else {
			rec.Server.Status = ok
		}
	}
}

func (a *API) power(id int64, command string, wantRunning bool, work func(id int64) error) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	rec, ok := s.d.Servers[id]
	already := ok && rec.Busy == 0 && ((wantRunning && rec.Server.Status == "running") || (!wantRunning && rec.Server.Status == "off"))
	s.mu.Unlock()
	if already {
		return a.runServerAction(id, command, serverStep{}) // nothing to do: a finished action, as the API answers
	}
	during := "starting"
	if !wantRunning {
		during = "stopping"
	}
	final, failed := "running", "off"
	if !wantRunning {
		final, failed = "off", "unknown"
	}
	return a.runServerAction(id, command, serverStep{
		begin: func(s *Store, rec *serverRec) { rec.Server.Status = during },
		work:  work,
		end:   settle(final, failed),
	})
}

func needOff(s *Store, rec *serverRec) *apiError {
	if rec.Server.Status != "off" {
		return errCode(http.StatusUnprocessableEntity, "server_not_stopped", "the server must be powered off for this action")
	}
	return nil
}

var unsupportedServerActions = []string{"rebuild", "attach_iso", "detach_iso", "enable_rescue", "disable_rescue", "create_image",
	"request_console", "change_dns_ptr", "reset_password"}

var serverActions = map[string]func(a *API, r *http.Request, id int64) (int, any, *apiError){
	"poweron": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.power(id, "start_server", true, func(id int64) error { return a.st.hosts.Start(bg(), id) })
	},
	"poweroff": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.power(id, "stop_server", false, func(id int64) error { return a.st.hosts.Stop(bg(), id, false) })
	},
	"shutdown": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.power(id, "shutdown_server", false, func(id int64) error { return a.st.hosts.Stop(bg(), id, true) })
	},
	"reboot": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.restart(id, "reboot_server", true)
	},
	"reset": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.restart(id, "reset_server", false)
	},
	"attach_to_network": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.ServerActionAttachToNetworkRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		if req.Network == 0 {
			return 0, nil, errInvalid("network", "Missing data for required field.")
		}
		var ips []string
		return a.runServerAction(id, "attach_to_network", serverStep{
			check: func(s *Store, rec *serverRec) *apiError {
				n, ok := s.d.Networks[req.Network]
				if !ok {
					return errNotFound("network")
				}
				if slices.ContainsFunc(rec.Server.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == req.Network }) {
					return errCode(http.StatusUnprocessableEntity, "server_already_attached", "the server is already attached to this network")
				}
				want := ""
				if req.IP != nil {
					want = *req.IP
				}
				ip, e := s.pickPrivateIP(n, rec.Server.Location.NetworkZone, want)
				if e != nil {
					return e
				}
				aliases := []string{}
				for _, al := range req.AliasIPs {
					if al == nil {
						continue
					}
					if _, e := s.pickPrivateIP(n, rec.Server.Location.NetworkZone, *al); e != nil || *al == ip || slices.Contains(aliases, *al) {
						return errCode(http.StatusUnprocessableEntity, "ip_not_available", fmt.Sprintf("alias IP %s is not available", *al))
					}
					aliases = append(aliases, *al)
				}
				rec.Server.PrivateNet = append(rec.Server.PrivateNet, schema.ServerPrivateNet{Network: req.Network, IP: ip, AliasIPs: aliases, MACAddress: macFor(id, req.Network)})
				ips = s.hostPrivateIPs(rec)
				return nil
			},
			work: func(id int64) error { return a.st.hosts.SetNetworks(bg(), id, ips) },
		}, ref("network", req.Network))
	},
	"detach_from_network": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.ServerActionDetachFromNetworkRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		var ips []string
		return a.runServerAction(id, "detach_from_network", serverStep{
			check: func(s *Store, rec *serverRec) *apiError {
				i := slices.IndexFunc(rec.Server.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == req.Network })
				if i < 0 {
					return errCode(http.StatusUnprocessableEntity, "server_not_attached_to_network", "the server is not attached to this network")
				}
				rec.Server.PrivateNet = slices.Delete(rec.Server.PrivateNet, i, i+1)
				ips = s.hostPrivateIPs(rec)
				return nil
			},
			work: func(id int64) error { return a.st.hosts.SetNetworks(bg(), id, ips) },
		}, ref("network", req.Network))
	},
	"change_alias_ips": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.ServerActionChangeAliasIPsRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		return a.runServerAction(id, "change_alias_ips", serverStep{check: func(s *Store, rec *serverRec) *apiError {
			i := slices.IndexFunc(rec.Server.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == req.Network })
			if i < 0 {
				return errCode(http.StatusUnprocessableEntity, "server_not_attached_to_network", "the server is not attached to this network")
			}
			pn := &rec.Server.PrivateNet[i]
			n := s.d.Networks[req.Network]
			for _, al := range req.AliasIPs {
				if slices.Contains(pn.AliasIPs, al) {
					continue
				}
				if _, e := s.pickPrivateIP(n, rec.Server.Location.NetworkZone, al); e != nil || al == pn.IP {
					return errCode(http.StatusUnprocessableEntity, "ip_not_available", fmt.Sprintf("alias IP %s is not available", al))
				}
			}
			pn.AliasIPs = append([]string{}, req.AliasIPs...)
			return nil
		}}, ref("network", req.Network))
	},
	"add_to_placement_group": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.ServerActionAddToPlacementGroupRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		return a.runServerAction(id, "add_to_placement_group", serverStep{check: func(s *Store, rec *serverRec) *apiError {
			pg, ok := s.d.PlacementGroups[req.PlacementGroup]
			if !ok {
				return errNotFound("placement group")
			}
			if e := needOff(s, rec); e != nil {
				return e
			}
			if rec.PlacementGroupID != 0 {
				return errCode(http.StatusUnprocessableEntity, "server_already_added", "the server is already in a placement group")
			}
			if len(s.renderPlacementGroup(pg).Servers) >= spreadGroupLimit {
				return errCode(http.StatusUnprocessableEntity, "placement_error", "the spread placement group is full (10 servers)")
			}
			rec.PlacementGroupID = req.PlacementGroup
			return nil
		}}, ref("placement_group", req.PlacementGroup))
	},
	"remove_from_placement_group": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.runServerAction(id, "remove_from_placement_group", serverStep{check: func(s *Store, rec *serverRec) *apiError {
			if rec.PlacementGroupID == 0 {
				return errInvalid("placement_group", "the server is in no placement group")
			}
			if e := needOff(s, rec); e != nil {
				return e
			}
			rec.PlacementGroupID = 0
			return nil
		}})
	},
	"change_protection": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.ServerActionChangeProtectionRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		return a.runServerAction(id, "change_protection", serverStep{check: func(s *Store, rec *serverRec) *apiError {
			p := rec.Server.Protection
			if req.Delete != nil {
				p.Delete = *req.Delete
			}
			if req.Rebuild != nil {
				p.Rebuild = *req.Rebuild
			}
			if p.Delete != p.Rebuild {
				return errInvalid("rebuild", "delete and rebuild protection of a server must be equal")
			}
			rec.Server.Protection = p
			return nil
		}})
	},
	"enable_backup": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.runServerAction(id, "enable_backup", serverStep{begin: func(s *Store, rec *serverRec) {
			w := "22-02"
			rec.Server.BackupWindow = &w
		}})
	},
	"disable_backup": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		return a.runServerAction(id, "disable_backup", serverStep{begin: func(s *Store, rec *serverRec) { rec.Server.BackupWindow = nil }})
	},
	"change_type": func(a *API, r *http.Request, id int64) (int, any, *apiError) {
		var req schema.ServerActionChangeTypeRequest
		if e := decode(r, &req); e != nil {
			return 0, nil, e
		}
		return a.runServerAction(id, "change_server_type", serverStep{check: func(s *Store, rec *serverRec) *apiError {
			t, ok := findServerType(req.ServerType)
			if !ok {
				return errInvalid("server_type", "server type not found")
			}
			if e := needOff(s, rec); e != nil {
				return e
			}
			if t.Disk < rec.Server.PrimaryDiskSize {
				return errCode(http.StatusUnprocessableEntity, "invalid_server_type", "the new server type's disk is smaller than the server's")
			}
			rec.Server.ServerType = t
			if req.UpgradeDisk {
				rec.Server.PrimaryDiskSize = t.Disk
			}
			return nil
		}})
	},
}

func init() {
	for _, name := range unsupportedServerActions {
		serverActions[name] = func(a *API, r *http.Request, id int64) (int, any, *apiError) {
			return 0, nil, errCode(http.StatusUnprocessableEntity, "unsupported_error", name+" is not supported by the stand-in")
		}
	}
}

func (a *API) restart(id int64, command string, graceful bool) (int, any, *apiError) {
	return a.runServerAction(id, command, serverStep{
		begin: func(s *Store, rec *serverRec) { rec.Server.Status = "starting" },
		work: func(id int64) error {
			if err := a.st.hosts.Stop(bg(), id, graceful); err != nil {
				return err
			}
			return a.st.hosts.Start(bg(), id)
		},
		end: settle("running", "off"),
	})
}
