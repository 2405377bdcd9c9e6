package main

// Server actions, one named function each: power (poweron, poweroff, shutdown, reboot, reset), networks,
// alias IPs, placement group, protection, backups, type. runServerAction locks the server while host work
// runs (423 locked for other actions meanwhile).

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var serverActions = map[string]actionHandler{
	"poweron":                     (*API).serverPowerOn,
	"poweroff":                    (*API).serverPowerOff,
	"shutdown":                    (*API).serverShutdown,
	"reboot":                      (*API).serverReboot,
	"reset":                       (*API).serverReset,
	"attach_to_network":           (*API).serverAttachToNetwork,
	"detach_from_network":         (*API).serverDetachFromNetwork,
	"change_alias_ips":            (*API).serverChangeAliasIPs,
	"add_to_placement_group":      (*API).serverAddToPlacementGroup,
	"remove_from_placement_group": (*API).serverRemoveFromPlacementGroup,
	"change_protection":           (*API).serverChangeProtection,
	"enable_backup":               (*API).serverEnableBackup,
	"disable_backup":              (*API).serverDisableBackup,
	"change_type":                 (*API).serverChangeType,
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
	return withRecord(a, servers, id, func(s *Store, rec *serverRec) (int, any, *apiError) {
		if rec.Busy > 0 {
			return fail(errLocked())
		}
		if step.check != nil {
			if e := step.check(s, rec); e != nil {
				return fail(e)
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
	})
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
		return errRefused("server_not_stopped", "the server must be powered off for this action")
	}
	return nil
}

var unsupportedServerActions = []string{"rebuild", "attach_iso", "detach_iso", "enable_rescue", "disable_rescue", "create_image",
	"request_console", "change_dns_ptr", "reset_password"}

func (a *API) serverPowerOn(r *http.Request, id int64) (int, any, *apiError) {
	return a.power(id, "start_server", true, func(id int64) error { return a.st.hosts.Start(bg(), id) })
}

func (a *API) serverPowerOff(r *http.Request, id int64) (int, any, *apiError) {
	return a.power(id, "stop_server", false, func(id int64) error { return a.st.hosts.Stop(bg(), id, false) })
}

func (a *API) serverShutdown(r *http.Request, id int64) (int, any, *apiError) {
	return a.power(id, "shutdown_server", false, func(id int64) error { return a.st.hosts.Stop(bg(), id, true) })
}

func (a *API) serverReboot(r *http.Request, id int64) (int, any, *apiError) {
	return a.restart(id, "reboot_server", true)
}

func (a *API) serverReset(r *http.Request, id int64) (int, any, *apiError) {
	return a.restart(id, "reset_server", false)
}

func (a *API) serverAttachToNetwork(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerActionAttachToNetworkRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	if req.Network == 0 {
		return fail(errInvalid("network", "Missing data for required field."))
	}
	var ips []string
	return a.runServerAction(id, "attach_to_network", serverStep{
		check: func(s *Store, rec *serverRec) *apiError {
			n, ok := s.d.Networks[req.Network]
			if !ok {
				return errNotFound("network")
			}
			if slices.ContainsFunc(rec.Server.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == req.Network }) {
				return errRefused("server_already_attached", "the server is already attached to this network")
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
					return errRefused("ip_not_available", fmt.Sprintf("alias IP %s is not available", *al))
				}
				aliases = append(aliases, *al)
			}
			rec.Server.PrivateNet = append(rec.Server.PrivateNet, schema.ServerPrivateNet{Network: req.Network, IP: ip, AliasIPs: aliases, MACAddress: macFor(id, req.Network)})
			ips = s.hostPrivateIPs(rec)
			return nil
		},
		work: func(id int64) error { return a.st.hosts.SetNetworks(bg(), id, ips) },
	}, ref("network", req.Network))
}

func (a *API) serverDetachFromNetwork(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerActionDetachFromNetworkRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	var ips []string
	return a.runServerAction(id, "detach_from_network", serverStep{
		check: func(s *Store, rec *serverRec) *apiError {
			i := slices.IndexFunc(rec.Server.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == req.Network })
			if i < 0 {
				return errRefused("server_not_attached_to_network", "the server is not attached to this network")
			}
			rec.Server.PrivateNet = slices.Delete(rec.Server.PrivateNet, i, i+1)
			ips = s.hostPrivateIPs(rec)
			return nil
		},
		work: func(id int64) error { return a.st.hosts.SetNetworks(bg(), id, ips) },
	}, ref("network", req.Network))
}

func (a *API) serverChangeAliasIPs(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerActionChangeAliasIPsRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	return a.runServerAction(id, "change_alias_ips", serverStep{check: func(s *Store, rec *serverRec) *apiError {
		i := slices.IndexFunc(rec.Server.PrivateNet, func(pn schema.ServerPrivateNet) bool { return pn.Network == req.Network })
		if i < 0 {
			return errRefused("server_not_attached_to_network", "the server is not attached to this network")
		}
		pn := &rec.Server.PrivateNet[i]
		n := s.d.Networks[req.Network]
		for _, al := range req.AliasIPs {
			if slices.Contains(pn.AliasIPs, al) {
				continue
			}
			if _, e := s.pickPrivateIP(n, rec.Server.Location.NetworkZone, al); e != nil || al == pn.IP {
				return errRefused("ip_not_available", fmt.Sprintf("alias IP %s is not available", al))
			}
		}
		pn.AliasIPs = append([]string{}, req.AliasIPs...)
		return nil
	}}, ref("network", req.Network))
}

func (a *API) serverAddToPlacementGroup(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerActionAddToPlacementGroupRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
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
			return errRefused("server_already_added", "the server is already in a placement group")
		}
		if len(s.renderPlacementGroup(pg).Servers) >= spreadGroupLimit {
			return errRefused("placement_error", "the spread placement group is full (10 servers)")
		}
		rec.PlacementGroupID = req.PlacementGroup
		return nil
	}}, ref("placement_group", req.PlacementGroup))
}

func (a *API) serverRemoveFromPlacementGroup(r *http.Request, id int64) (int, any, *apiError) {
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
}

func (a *API) serverChangeProtection(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerActionChangeProtectionRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
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
}

func (a *API) serverEnableBackup(r *http.Request, id int64) (int, any, *apiError) {
	return a.runServerAction(id, "enable_backup", serverStep{begin: func(s *Store, rec *serverRec) {
		w := "22-02"
		rec.Server.BackupWindow = &w
	}})
}

func (a *API) serverDisableBackup(r *http.Request, id int64) (int, any, *apiError) {
	return a.runServerAction(id, "disable_backup", serverStep{begin: func(s *Store, rec *serverRec) { rec.Server.BackupWindow = nil }})
}

func (a *API) serverChangeType(r *http.Request, id int64) (int, any, *apiError) {
	var req schema.ServerActionChangeTypeRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
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
			return errRefused("invalid_server_type", "the new server type's disk is smaller than the server's")
		}
		rec.Server.ServerType = t
		if req.UpgradeDisk {
			rec.Server.PrimaryDiskSize = t.Disk
		}
		return nil
	}})
}

func init() {
	for _, name := range unsupportedServerActions {
		serverActions[name] = func(a *API, r *http.Request, id int64) (int, any, *apiError) {
			return fail(errUnsupported(name + " is not supported by the stand-in"))
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
