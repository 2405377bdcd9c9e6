package main

// The HTTP side: bearer-token auth, routing, error bodies, pagination. Shapes follow the Hetzner Cloud API
// (https://docs.hetzner.cloud): every error is {"error": {"code", "message", "details"}} with the documented
// status (401 unauthorized, 404 not_found, 409 uniqueness_error/conflict, 422 invalid_input/service_error,
// 423 locked, 400 json_error), lists carry meta.pagination.

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiError is an error as the API reports it.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

type fieldError struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages"`
}

func errNotFound(what string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: what + " not found"}
}

// errInvalid is invalid_input with the per-field details the real API sends.
func errInvalid(field, message string) *apiError {
	return &apiError{
		Status:  http.StatusUnprocessableEntity,
		Code:    "invalid_input",
		Message: fmt.Sprintf("invalid input in field '%s'", field),
		Details: map[string]any{"fields": []fieldError{{Name: field, Messages: []string{message}}}},
	}
}

func errUniqueness(field string) *apiError {
	return &apiError{
		Status:  http.StatusConflict,
		Code:    "uniqueness_error",
		Message: fmt.Sprintf("%s is already used", field),
		Details: map[string]any{"fields": []fieldError{{Name: field, Messages: []string{"must be unique"}}}},
	}
}

func errCode(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

// API is the stand-in's HTTP handler.
type API struct {
	token string
	st    *Store
	log   *log.Logger
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	a.serve(rec, r)
	// Method, path and status only: never headers (the token) nor bodies (SSH keys, user data).
	a.log.Printf("%s %s -> %d (%s)", r.Method, r.URL.Path, rec.status, time.Since(started).Round(time.Millisecond))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	given, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(a.token)) != 1 {
		writeError(w, errCode(http.StatusUnauthorized, "unauthorized", "unable to authenticate"))
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	segs := strings.Split(path, "/")
	if len(segs) < 2 || segs[0] != "v1" {
		writeError(w, errCode(http.StatusNotFound, "not_found", "not found"))
		return
	}
	status, body, err := a.route(r, segs[1:])
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, body)
}

func (a *API) route(r *http.Request, s []string) (int, any, *apiError) {
	res := s[0]
	m := r.Method
	// Actions of any kind: /actions, /actions/{id}, /{res}/actions, /{res}/actions/{id}, /{res}/{id}/actions.
	if res == "actions" {
		if m != http.MethodGet {
			return methodNotAllowed()
		}
		switch len(s) {
		case 1:
			return a.listActions(r, "", 0)
		case 2:
			return a.getAction(s[1], "", 0)
		}
		return notFoundRoute()
	}
	if len(s) >= 2 && s[1] == "actions" {
		if m != http.MethodGet {
			return methodNotAllowed()
		}
		switch len(s) {
		case 2:
			return a.listActions(r, res, 0)
		case 3:
			return a.getAction(s[2], res, 0)
		}
		return notFoundRoute()
	}
	kind, known := resourceKinds[res]
	if !known {
		return notFoundRoute()
	}
	if len(s) == 1 {
		switch m {
		case http.MethodGet:
			return a.list(r, res)
		case http.MethodPost:
			if kind.create == nil {
				return methodNotAllowed()
			}
			return kind.create(a, r)
		}
		return methodNotAllowed()
	}
	id, perr := strconv.ParseInt(s[1], 10, 64)
	if perr != nil || id <= 0 {
		return 0, nil, errInvalid("id", "must be a positive integer")
	}
	if len(s) == 2 {
		switch m {
		case http.MethodGet:
			return a.get(res, id)
		case http.MethodPut:
			if kind.update == nil {
				return methodNotAllowed()
			}
			return kind.update(a, r, id)
		case http.MethodDelete:
			if kind.remove == nil {
				return methodNotAllowed()
			}
			return kind.remove(a, id)
		}
		return methodNotAllowed()
	}
	if s[2] != "actions" {
		return notFoundRoute()
	}
	switch {
	case len(s) == 3 && m == http.MethodGet:
		return a.listActions(r, res, id)
	case len(s) == 4 && m == http.MethodGet:
		return a.getAction(s[3], res, id)
	case len(s) == 4 && m == http.MethodPost:
		if kind.actions == nil {
			return notFoundRoute()
		}
		fn, ok := kind.actions[s[3]]
		if !ok {
			return notFoundRoute()
		}
		return fn(a, r, id)
	}
	return notFoundRoute()
}

func notFoundRoute() (int, any, *apiError) {
	return 0, nil, errCode(http.StatusNotFound, "not_found", "not found")
}

func methodNotAllowed() (int, any, *apiError) {
	return 0, nil, errCode(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
}

// resourceKind lists what a collection supports besides GET (which every collection has).
type resourceKind struct {
	create  func(a *API, r *http.Request) (int, any, *apiError)
	update  func(a *API, r *http.Request, id int64) (int, any, *apiError)
	remove  func(a *API, id int64) (int, any, *apiError)
	actions map[string]func(a *API, r *http.Request, id int64) (int, any, *apiError)
}

var resourceKinds = map[string]resourceKind{}

func init() {
	resourceKinds["locations"] = resourceKind{}
	resourceKinds["datacenters"] = resourceKind{}
	resourceKinds["server_types"] = resourceKind{}
	resourceKinds["images"] = resourceKind{}
	resourceKinds["ssh_keys"] = resourceKind{create: (*API).createSSHKey, update: (*API).updateSSHKey, remove: (*API).deleteSSHKey}
	resourceKinds["placement_groups"] = resourceKind{create: (*API).createPlacementGroup, update: (*API).updatePlacementGroup, remove: (*API).deletePlacementGroup}
	resourceKinds["networks"] = resourceKind{create: (*API).createNetwork, update: (*API).updateNetwork, remove: (*API).deleteNetwork,
		actions: networkActions}
	resourceKinds["firewalls"] = resourceKind{create: (*API).createFirewall, update: (*API).updateFirewall, remove: (*API).deleteFirewall,
		actions: firewallActions}
	resourceKinds["servers"] = resourceKind{create: (*API).createServer, update: (*API).updateServer, remove: (*API).deleteServer,
		actions: serverActions}
}

// decode reads a JSON body strictly enough to give json_error on garbage, as the API does.
func decode(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errCode(http.StatusBadRequest, "json_error", "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errCode(http.StatusBadRequest, "json_error", "invalid JSON in the request body: "+err.Error())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message, "details": e.Details}}
	writeJSON(w, e.Status, body)
}

// pagination is the real API's meta.pagination: previous/next page are null at the ends.
type pagination struct {
	Page         int  `json:"page"`
	PerPage      int  `json:"per_page"`
	PreviousPage *int `json:"previous_page"`
	NextPage     *int `json:"next_page"`
	LastPage     int  `json:"last_page"`
	TotalEntries int  `json:"total_entries"`
}

// paginate cuts items (already filtered and sorted) to the requested page; per_page defaults to 25, at most 50.
func paginate[T any](r *http.Request, items []T) ([]T, map[string]any, *apiError) {
	q := r.URL.Query()
	page, perPage := 1, 25
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, nil, errInvalid("page", "must be an integer >= 1")
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			return nil, nil, errInvalid("per_page", "must be an integer between 1 and 50")
		}
		perPage = n
	}
	total := len(items)
	last := (total + perPage - 1) / perPage
	if last == 0 {
		last = 1
	}
	p := pagination{Page: page, PerPage: perPage, LastPage: last, TotalEntries: total}
	if page > 1 {
		prev := page - 1
		p.PreviousPage = &prev
	}
	if page < last {
		next := page + 1
		p.NextPage = &next
	}
	start := (page - 1) * perPage
	end := start + perPage
	if start > total {
		start = total
	}
	if end > total {
		end = total
	}
	return items[start:end], map[string]any{"pagination": p}, nil
}

// sortFields compares two items by one sort field of the API (id, name, created, status).
type sortFields[T any] map[string]func(a, b T) int

// sortItems orders by the sort parameters (field or field:asc|desc, repeatable), then by id.
func sortItems[T any](r *http.Request, items []T, fields sortFields[T]) *apiError {
	var cmps []func(a, b T) int
	for _, k := range r.URL.Query()["sort"] {
		field, dir, _ := strings.Cut(k, ":")
		f, ok := fields[field]
		if !ok || (dir != "" && dir != "asc" && dir != "desc") {
			return errInvalid("sort", fmt.Sprintf("invalid sort value %q", k))
		}
		if dir == "desc" {
			asc := f
			f = func(a, b T) int { return -asc(a, b) }
		}
		cmps = append(cmps, f)
	}
	cmps = append(cmps, fields["id"])
	slices.SortStableFunc(items, func(a, b T) int {
		for _, c := range cmps {
			if v := c(a, b); v != 0 {
				return v
			}
		}
		return 0
	})
	return nil
}
