package main

// Servers: create (validate, allocate, commit), read, update, delete. A server is a real local host (see
// hosts.go); host work runs in the background behind a running action, and the server is locked (423)
// meanwhile, as on the real API. Its actions are in serveractions.go.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

func bg() context.Context { return context.Background() }

var hostnameRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

const maxUserData = 32 * 1024

var servers = kind[serverRec]{res: "servers", one: "server", what: "server", byCreated: true,
	all: func(s *Store) map[int64]*serverRec { return s.d.Servers },
	meta: func(r *serverRec) meta {
		return meta{id: r.Server.ID, name: &r.Server.Name, labels: &r.Server.Labels, created: &r.Server.Created}
	},
	filter: func(q url.Values, r *serverRec) bool { return inQuery(q, "status", r.Server.Status) },
	render: func(s *Store, r *serverRec) any { return s.renderServer(r) },
	checkName: func(name string) *apiError {
		if len(name) > 253 || !hostnameRe.MatchString(name) {
			return errInvalid("name", "must be a valid hostname (RFC 1123)")
		}
		return nil
	},
}

// The handlers are set here: they use servers themselves (no initialization cycle).
func init() {
	servers.create, servers.deleteBy, servers.actions = (*API).createServer, (*API).deleteServer, serverActions
	register(servers)
}

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

// serverPlan is a create request checked on its own (no state needed).
type serverPlan struct {
	req        schema.ServerCreateRequest
	serverType schema.ServerType
	image      schema.Image
	location   schema.Location
	labels     map[string]string
	ipv4, ipv6 bool
	start      bool
}

func (a *API) createServer(r *http.Request) (int, any, *apiError) {
	var req schema.ServerCreateRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	plan, e := validateServer(req)
	if e != nil {
		return fail(e)
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.allocateServer(plan)
	if e != nil {
		return fail(e)
	}
	create, next := s.commitServer(rec, plan)
	return http.StatusCreated, map[string]any{"server": s.renderServer(rec), "action": create, "next_actions": next, "root_password": nil}, nil
}

// validateServer checks what a create request says by itself: name, type, image, where, labels, user data.
func validateServer(req schema.ServerCreateRequest) (serverPlan, *apiError) {
	p := serverPlan{req: req, ipv4: true, ipv6: true, start: req.StartAfterCreate == nil || *req.StartAfterCreate}
	if e := servers.validName(req.Name); e != nil {
		return p, e
	}
	var ok bool
	if p.serverType, ok = findServerType(req.ServerType); !ok {
		return p, errInvalid("server_type", "server type not found")
	}
	if p.image, ok = findImage(req.Image); !ok {
		return p, errInvalid("image", "image not found")
	}
	if p.image.Architecture != p.serverType.Architecture {
		return p, errInvalid("image", fmt.Sprintf("image architecture %s does not match server type architecture %s", p.image.Architecture, p.serverType.Architecture))
	}
	switch {
	case req.Location != "":
		if p.location, ok = findLocation(req.Location); !ok {
			return p, errInvalid("location", "location not found")
		}
	case req.Datacenter != "":
		dc, ok := findDatacenter(req.Datacenter)
		if !ok {
			return p, errInvalid("datacenter", "datacenter not found")
		}
		p.location = dc.Location
	default:
		p.location, _ = findLocation("fsn1")
	}
	if !offeredIn(p.serverType, p.location.Name) {
		return p, errUnsupportedLocation()
	}
	p.labels = copyLabels(req.Labels)
	if e := validateLabels(p.labels); e != nil {
		return p, e
	}
	if len(req.UserData) > maxUserData {
		return p, errInvalid("user_data", "at most 32 KiB")
	}
	if len(req.Volumes) > 0 {
		return p, errInvalid("volumes", "the stand-in has no volumes")
	}
	if pn := req.PublicNet; pn != nil {
		if pn.IPv4ID != 0 || pn.IPv6ID != 0 {
			return p, errInvalid("public_net", "the stand-in assigns its own primary IPs; existing primary IPs are not supported")
		}
		p.ipv4, p.ipv6 = pn.EnableIPv4, pn.EnableIPv6
	}
	if !p.ipv4 && !p.ipv6 && len(req.Networks) == 0 {
		return p, errInvalid("networks", "a server without public IPs needs a network")
	}
	return p, nil
}

// allocateServer checks the request against the project (unique name, the keys, firewalls, placement group
// and networks it names) and gives the server its ID and addresses; nothing is stored yet. Lock held.
func (s *Store) allocateServer(p serverPlan) (*serverRec, *apiError) {
	req := p.req
	if servers.nameTaken(s, req.Name) {
		return nil, errUniqueness("name")
	}
	var keys []string
	for _, kid := range req.SSHKeys {
		k, ok := s.d.SSHKeys[kid]
		if !ok {
			return nil, errInvalid("ssh_keys", fmt.Sprintf("SSH key %d not found", kid))
		}
		keys = append(keys, k.PublicKey)
	}
	for _, f := range req.Firewalls {
		if _, ok := s.d.Firewalls[f.Firewall]; !ok {
			return nil, errInvalid("firewalls", fmt.Sprintf("firewall %d not found", f.Firewall))
		}
	}
	if req.PlacementGroup != 0 {
		pg, ok := s.d.PlacementGroups[req.PlacementGroup]
		if !ok {
			return nil, errInvalid("placement_group", fmt.Sprintf("placement group %d not found", req.PlacementGroup))
		}
		if e := s.placementGroupFull(pg); e != nil {
			return nil, e
		}
	}
	var private []schema.ServerPrivateNet
	for _, nid := range req.Networks {
		n, ok := s.d.Networks[nid]
		if !ok {
			return nil, errInvalid("networks", fmt.Sprintf("network %d not found", nid))
		}
		ip, e := s.pickPrivateIP(n, p.location.NetworkZone, "")
		if e != nil {
			return nil, e
		}
		private = append(private, schema.ServerPrivateNet{Network: nid, IP: ip, AliasIPs: []string{}})
	}
	var ipv4 string
	if p.ipv4 {
		var ok bool
		if ipv4, ok = s.publicIPv4(); !ok {
			return nil, errUnavailable("no public IPv4 address left in " + s.publicPrefix + ".0/24")
		}
	}
	id := s.nextID("servers")
	for i := range private {
		private[i].MACAddress = macFor(id, private[i].Network)
	}
	st := p.serverType
	dc := datacenterOf(p.location.Name)
	sv := schema.Server{ID: id, Name: req.Name, Status: "initializing", Created: s.now(), ServerType: st,
		IncludedTraffic: uint64(st.IncludedTraffic), Location: p.location, Datacenter: &dc, Image: &p.image, Labels: p.labels,
		Volumes: []int64{}, PrimaryDiskSize: st.Disk, LoadBalancers: []int64{}, PrivateNet: append([]schema.ServerPrivateNet{}, private...)}
	sv.PublicNet = schema.ServerPublicNet{FloatingIPs: []int64{}, Firewalls: []schema.ServerFirewall{},
		IPv6: schema.ServerPublicNetIPv6{DNSPtr: []schema.ServerPublicNetIPv6DNSPtr{}}}
	if p.ipv4 {
		sv.PublicNet.IPv4 = schema.ServerPublicNetIPv4{ID: s.nextID("primary_ips"), IP: ipv4, DNSPtr: reverseDNS(ipv4)}
	}
	if p.ipv6 {
		// Documentation range (RFC 3849): reported as the API would, not routed anywhere.
		sv.PublicNet.IPv6.ID = s.nextID("primary_ips")
		sv.PublicNet.IPv6.IP = fmt.Sprintf("2001:db8:0:%x::/64", sv.PublicNet.IPv6.ID%0x10000)
	}
	return &serverRec{Server: sv, PlacementGroupID: req.PlacementGroup, AuthorizedKeys: keys, UserData: req.UserData}, nil
}

// commitServer stores the server, applies its firewalls, and makes its host (and boots it) behind the
// create_server (and start_server) actions. Lock held.
func (s *Store) commitServer(rec *serverRec, p serverPlan) (*schema.Action, []schema.Action) {
	id := rec.Server.ID
	for _, f := range p.req.Firewalls {
		fw := s.d.Firewalls[f.Firewall]
		fw.AppliedTo = append(fw.AppliedTo, schema.FirewallResource{Type: "server", Server: &schema.FirewallResourceServer{ID: id}})
	}
	s.d.Servers[id] = rec
	create := s.newAction("create_server", true, ref("server", id))
	next := []schema.Action{}
	var start *schema.Action
	if p.start {
		start = s.newAction("start_server", true, ref("server", id))
		next = append(next, *start)
	}
	rec.Busy++
	spec := HostSpec{ID: id, Hostname: rec.Server.Name, PublicIP: rec.Server.PublicNet.IPv4.IP, PrivateIPs: s.hostPrivateIPs(rec),
		AuthorizedKeys: rec.AuthorizedKeys, UserData: rec.UserData}
	s.async(func() error { return s.hosts.Create(bg(), spec) }, func(err error) {
		if err != nil {
			s.log.Printf("server %d: creating its host failed: %v", id, err)
			failed := &schema.ActionError{Code: "server_error", Message: "could not create the host"}
			s.finishAction(create, failed)
			if start != nil {
				s.finishAction(start, failed)
			}
			rec.Server.Status = "off"
			rec.Busy--
			return
		}
		s.finishAction(create, nil)
		if start == nil {
			rec.Server.Status = "off"
			rec.Busy--
			return
		}
		rec.Server.Status = "starting"
		s.async(func() error { return s.hosts.Start(bg(), id) }, func(err error) {
			rec.Busy--
			if err != nil {
				s.log.Printf("server %d: booting its host failed: %v", id, err)
				s.finishAction(start, &schema.ActionError{Code: "server_error", Message: "could not start the host"})
				rec.Server.Status = "off"
				return
			}
			s.finishAction(start, nil)
			rec.Server.Status = "running"
		})
	})
	s.save()
	return create, next
}

func (a *API) deleteServer(id int64) (int, any, *apiError) {
	return withRecord(a, servers, id, func(s *Store, rec *serverRec) (int, any, *apiError) {
		if rec.Server.Protection.Delete {
			return fail(errProtected("server"))
		}
		if rec.Busy > 0 {
			return fail(errLocked())
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
	})
}
