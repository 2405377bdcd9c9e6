package main

// Placement groups: CRUD, type spread only, at most 10 servers each.

import (
	"net/http"
	"net/url"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

const spreadGroupLimit = 10

var placementGroups = kind[schema.PlacementGroup]{res: "placement_groups", one: "placement_group", what: "placement group", byCreated: true,
	all: func(s *Store) map[int64]*schema.PlacementGroup { return s.d.PlacementGroups },
	meta: func(p *schema.PlacementGroup) meta {
		return meta{id: p.ID, name: &p.Name, labels: &p.Labels, created: &p.Created}
	},
	filter: func(q url.Values, p *schema.PlacementGroup) bool { return inQuery(q, "type", p.Type) },
	render: func(s *Store, p *schema.PlacementGroup) any { return s.renderPlacementGroup(p) },
	// Its servers leave the group with it.
	remove: func(s *Store, id int64, _ *schema.PlacementGroup) *apiError {
		for _, sv := range s.d.Servers {
			if sv.PlacementGroupID == id {
				sv.PlacementGroupID = 0
			}
		}
		return nil
	},
}

// create is set here: it uses placementGroups itself (no initialization cycle).
func init() {
	placementGroups.create = (*API).createPlacementGroup
	register(placementGroups)
}

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

// placementGroupFull refuses a server joining a full spread group.
func (s *Store) placementGroupFull(pg *schema.PlacementGroup) *apiError {
	if len(s.renderPlacementGroup(pg).Servers) >= spreadGroupLimit {
		return errRefused("placement_error", "the spread placement group is full (10 servers)")
	}
	return nil
}

func (a *API) createPlacementGroup(r *http.Request) (int, any, *apiError) {
	var req schema.PlacementGroupCreateRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	if e := placementGroups.validName(req.Name); e != nil {
		return fail(e)
	}
	if req.Type != "spread" {
		return fail(errInvalid("type", "must be one of: spread"))
	}
	labels := copyLabels(req.Labels)
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := placementGroups.checkNew(s, req.Name, labels); e != nil {
		return fail(e)
	}
	p := &schema.PlacementGroup{ID: s.nextID("placement_groups"), Name: req.Name, Labels: labels, Created: s.now(), Type: req.Type}
	s.d.PlacementGroups[p.ID] = p
	s.save()
	return http.StatusCreated, map[string]any{"placement_group": s.renderPlacementGroup(p), "action": nil}, nil
}
