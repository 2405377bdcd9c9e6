package main

// Firewalls: CRUD, set_rules, apply_to_resources, remove_from_resources. Rules are validated and kept,
// applied to servers or label selectors; they are reported, not enforced on the hosts.

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var firewalls = kind[schema.Firewall]{res: "firewalls", one: "firewall", what: "firewall", byCreated: true,
	all: func(s *Store) map[int64]*schema.Firewall { return s.d.Firewalls },
	meta: func(f *schema.Firewall) meta {
		return meta{id: f.ID, name: &f.Name, labels: &f.Labels, created: &f.Created}
	},
	render: func(s *Store, f *schema.Firewall) any { return s.renderFirewall(f) },
	remove: func(_ *Store, _ int64, f *schema.Firewall) *apiError {
		if len(f.AppliedTo) > 0 {
			return errRefused("resource_in_use", "firewall must not be in use to be deleted")
		}
		return nil
	},
}

// create and the actions are set here: they use firewalls themselves (no initialization cycle).
func init() {
	firewalls.create = (*API).createFirewall
	firewalls.actions = map[string]actionHandler{
		"set_rules":             (*API).firewallSetRules,
		"apply_to_resources":    (*API).firewallApply,
		"remove_from_resources": (*API).firewallRemove,
	}
	register(firewalls)
}

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
				return nil, errRefused("firewall_resource_not_found", fmt.Sprintf("server %d not found", res.Server.ID))
			}
			if slices.ContainsFunc(f.AppliedTo, func(o schema.FirewallResource) bool { return o.Type == "server" && o.Server.ID == res.Server.ID }) {
				return nil, errRefused("firewall_already_applied", fmt.Sprintf("firewall %d is already applied to server %d", f.ID, res.Server.ID))
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
				return nil, errRefused("firewall_already_applied", "firewall is already applied to this label selector")
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
		return fail(e)
	}
	if e := firewalls.validName(req.Name); e != nil {
		return fail(e)
	}
	rules, e := checkRules(req.Rules)
	if e != nil {
		return fail(e)
	}
	labels := copyLabels(req.Labels)
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := firewalls.checkNew(s, req.Name, labels); e != nil {
		return fail(e)
	}
	f := &schema.Firewall{ID: s.nextID("firewalls"), Name: req.Name, Labels: labels, Created: s.now(), Rules: rules, AppliedTo: []schema.FirewallResource{}}
	actions, e := s.applyFirewall(f, req.ApplyTo)
	if e != nil {
		return fail(e)
	}
	s.d.Firewalls[f.ID] = f
	s.save()
	return http.StatusCreated, map[string]any{"firewall": s.renderFirewall(f), "actions": actionList(actions)}, nil
}

func (a *API) firewallSetRules(r *http.Request, id int64) (int, any, *apiError) {
	return onRecord(a, r, firewalls, id, func(s *Store, f *schema.Firewall, req *schema.FirewallActionSetRulesRequest) (int, any, *apiError) {
		rules, e := checkRules(req.Rules)
		if e != nil {
			return fail(e)
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
	})
}

func (a *API) firewallApply(r *http.Request, id int64) (int, any, *apiError) {
	return onRecord(a, r, firewalls, id, func(s *Store, f *schema.Firewall, req *schema.FirewallActionApplyToResourcesRequest) (int, any, *apiError) {
		applied := slices.Clone(f.AppliedTo)
		actions, e := s.applyFirewall(f, req.ApplyTo)
		if e != nil {
			f.AppliedTo = applied // all or nothing
			return fail(e)
		}
		s.save()
		return http.StatusCreated, map[string]any{"actions": actionList(actions)}, nil
	})
}

func (a *API) firewallRemove(r *http.Request, id int64) (int, any, *apiError) {
	return onRecord(a, r, firewalls, id, func(s *Store, f *schema.Firewall, req *schema.FirewallActionRemoveFromResourcesRequest) (int, any, *apiError) {
		var actions []*schema.Action
		kept := slices.Clone(f.AppliedTo)
		for _, res := range req.RemoveFrom {
			var i int
			switch {
			case res.Type == "server" && res.Server != nil:
				if _, ok := s.d.Servers[res.Server.ID]; !ok {
					return fail(errRefused("firewall_resource_not_found", fmt.Sprintf("server %d not found", res.Server.ID)))
				}
				i = slices.IndexFunc(kept, func(o schema.FirewallResource) bool { return o.Type == "server" && o.Server.ID == res.Server.ID })
			case res.Type == "label_selector" && res.LabelSelector != nil:
				i = slices.IndexFunc(kept, func(o schema.FirewallResource) bool {
					return o.Type == "label_selector" && o.LabelSelector.Selector == res.LabelSelector.Selector
				})
			default:
				return fail(errInvalid("remove_from", "type must be server (with server.id) or label_selector (with label_selector.selector)"))
			}
			if i < 0 {
				return fail(errRefused("firewall_resource_not_found", "the firewall is not applied to this resource"))
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
	})
}
