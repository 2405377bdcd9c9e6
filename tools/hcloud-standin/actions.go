package main

// Actions of any kind: /actions, /actions/{id}, /{res}/actions, /{res}/actions/{id}, /{res}/{id}/actions,
// filtered by id and status, sorted.

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

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
			return fail(errInvalid("id", "must be an integer"))
		}
		ids = append(ids, n)
	}
	for _, st := range q["status"] {
		if st != "running" && st != "success" && st != "error" {
			return fail(errInvalid("status", "must be running, success or error"))
		}
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := resourceKinds[res]; id != 0 && (!ok || k.exists == nil || !k.exists(s, id)) {
		return fail(errNotFound(strings.ReplaceAll(resourceType(res), "_", " ")))
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
	return listResult(r, "actions", out, fields, func(x schema.Action) any { return x })
}

func finishedAt(a schema.Action) int64 {
	if a.Finished == nil {
		return 0
	}
	return a.Finished.Unix()
}

func (a *API) getAction(idText, res string) (int, any, *apiError) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return fail(errInvalid("id", "must be a positive integer"))
	}
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	act, ok := s.d.Actions[id]
	if !ok || !actionConcerns(act, res, 0) {
		return fail(errNotFound("action"))
	}
	return 200, map[string]any{"action": act}, nil
}
