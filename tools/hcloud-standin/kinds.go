package main

// What each collection serves, and the list, get, update and delete that every named, labelled resource
// shares. Each kind's file registers its complete handler set in its init().

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type (
	listHandler   func(a *API, r *http.Request) (int, any, *apiError)
	idHandler     func(a *API, id int64) (int, any, *apiError)
	actionHandler func(a *API, r *http.Request, id int64) (int, any, *apiError)
)

// kindHandlers is what one collection serves; nil means not served (405; 404 for actions).
type kindHandlers struct {
	list    listHandler
	get     idHandler
	create  listHandler
	update  actionHandler
	remove  idHandler
	exists  func(s *Store, id int64) bool // serves /{res}/{id}/actions when set
	actions map[string]actionHandler
}

var resourceKinds = map[string]kindHandlers{}

// meta points at the fields every listed resource has, so the generic handlers can read and set them.
type meta struct {
	id      int64
	name    *string
	labels  *map[string]string // nil: the kind has no labels
	created *time.Time         // nil: the kind has no creation time
}

// kind describes the collection res of T (T as stored) for the generic handlers.
type kind[T any] struct {
	res, one, what string // "ssh_keys", "ssh_key", "SSH key"
	all            func(s *Store) map[int64]*T
	meta           func(x *T) meta
	byCreated      bool                          // sortable by created
	filter         func(q url.Values, x *T) bool // list filters beyond name and label_selector
	render         func(s *Store, x *T) any      // nil: as stored
	// Project resources (create, update, delete); catalog kinds leave these nil and are read-only.
	create    listHandler
	checkName func(name string) *apiError                 // beyond "not empty", on create and update
	more      func(s *Store, body []byte, x *T) *apiError // a kind's own update fields
	remove    func(s *Store, id int64, x *T) *apiError    // refusals and cascades of a synchronous delete
	deleteBy  idHandler                                   // a delete of its own (servers: a running action)
	actions   map[string]actionHandler
	noActions bool // no /{res}/{id}/actions (catalog kinds without actions)
}

func register[T any](k kind[T]) {
	h := kindHandlers{list: k.list, get: k.get, create: k.create, actions: k.actions}
	if k.create != nil {
		h.update = k.update
		h.remove = k.deleteBy
		if h.remove == nil {
			h.remove = k.delete
		}
	}
	if !k.noActions {
		h.exists = func(s *Store, id int64) bool { _, ok := k.all(s)[id]; return ok }
	}
	resourceKinds[k.res] = h
}

func (k kind[T]) show(s *Store, x *T) any {
	if k.render == nil {
		return x
	}
	return k.render(s, x)
}

func (k kind[T]) list(a *API, r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	var sel []selectorTerm
	if v := q.Get("label_selector"); v != "" {
		var e *apiError
		if sel, e = parseSelector(v); e != nil {
			return fail(e)
		}
	}
	name := q.Get("name")
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	all := k.all(s)
	var out []*T
	for _, id := range sortedIDs(all) {
		x := all[id]
		m := k.meta(x)
		if (name != "" && *m.name != name) || (m.labels != nil && !matchSelector(sel, *m.labels)) || (k.filter != nil && !k.filter(q, x)) {
			continue
		}
		out = append(out, x)
	}
	fields := sortFields[*T]{
		"id":   byID(func(x *T) int64 { return k.meta(x).id }),
		"name": func(x, y *T) int { return strings.Compare(*k.meta(x).name, *k.meta(y).name) },
	}
	if k.byCreated {
		fields["created"] = func(x, y *T) int { return k.meta(x).created.Compare(*k.meta(y).created) }
	}
	return listResult(r, k.res, out, fields, func(x *T) any { return k.show(s, x) })
}

func (k kind[T]) get(a *API, id int64) (int, any, *apiError) {
	return withRecord(a, k, id, func(s *Store, x *T) (int, any, *apiError) {
		return http.StatusOK, map[string]any{k.one: k.show(s, x)}, nil
	})
}

func (k kind[T]) find(s *Store, id int64) (*T, *apiError) {
	x, ok := k.all(s)[id]
	if !ok {
		return nil, errNotFound(k.what)
	}
	return x, nil
}

// onRecord decodes a request R, then finds the record and runs fn on it, all under the lock.
func onRecord[T, R any](a *API, r *http.Request, k kind[T], id int64, fn func(s *Store, x *T, req *R) (int, any, *apiError)) (int, any, *apiError) {
	var req R
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	return withRecord(a, k, id, func(s *Store, x *T) (int, any, *apiError) { return fn(s, x, &req) })
}

// withRecord finds the record and runs fn on it under the lock (404 when there is none).
func withRecord[T any](a *API, k kind[T], id int64, fn func(s *Store, x *T) (int, any, *apiError)) (int, any, *apiError) {
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	x, e := k.find(s, id)
	if e != nil {
		return fail(e)
	}
	return fn(s, x)
}

// validName checks a name given on create or update.
func (k kind[T]) validName(name string) *apiError {
	if strings.TrimSpace(name) == "" {
		return errInvalid("name", "Missing data for required field.")
	}
	if k.checkName != nil {
		return k.checkName(name)
	}
	return nil
}

// nameTaken: names are unique per kind in a project (409 uniqueness_error).
func (k kind[T]) nameTaken(s *Store, name string) bool {
	for _, x := range k.all(s) {
		if *k.meta(x).name == name {
			return true
		}
	}
	return false
}

// checkNew validates what every create of a named, labelled resource gets; call with the lock held.
func (k kind[T]) checkNew(s *Store, name string, labels map[string]string) *apiError {
	if e := k.validName(name); e != nil {
		return e
	}
	if e := validateLabels(labels); e != nil {
		return e
	}
	if k.nameTaken(s, name) {
		return errUniqueness("name")
	}
	return nil
}

func (k kind[T]) update(a *API, r *http.Request, id int64) (int, any, *apiError) {
	return onRecord(a, r, k, id, func(s *Store, x *T, body *json.RawMessage) (int, any, *apiError) {
		var req struct {
			Name   *string            `json:"name"`
			Labels *map[string]string `json:"labels"`
		}
		if e := decodeBytes(*body, &req); e != nil {
			return fail(e)
		}
		if req.Labels != nil {
			if e := validateLabels(*req.Labels); e != nil {
				return fail(e)
			}
		}
		m := k.meta(x)
		if req.Name != nil && *req.Name != *m.name {
			if e := k.validName(*req.Name); e != nil {
				return fail(e)
			}
			if k.nameTaken(s, *req.Name) {
				return fail(errUniqueness("name"))
			}
		}
		if k.more != nil {
			if e := k.more(s, *body, x); e != nil {
				return fail(e)
			}
		}
		if req.Name != nil {
			*m.name = *req.Name
		}
		if req.Labels != nil {
			*m.labels = copyLabels(req.Labels)
		}
		s.save()
		return http.StatusOK, map[string]any{k.one: k.show(s, x)}, nil
	})
}

func (k kind[T]) delete(a *API, id int64) (int, any, *apiError) {
	return withRecord(a, k, id, func(s *Store, x *T) (int, any, *apiError) {
		if k.remove != nil {
			if e := k.remove(s, id, x); e != nil {
				return fail(e)
			}
		}
		delete(k.all(s), id)
		s.save()
		return http.StatusNoContent, nil, nil
	})
}

// catalog indexes a read-only list by id (copies: nothing changes the catalog).
func catalog[T any](items []T, id func(T) int64) map[int64]*T {
	out := make(map[int64]*T, len(items))
	for _, it := range slices.Clone(items) {
		it := it
		out[id(it)] = &it
	}
	return out
}

// inQuery: a list filter that holds when the parameter is absent or one of its values is v.
func inQuery(q url.Values, key, v string) bool {
	return len(q[key]) == 0 || slices.Contains(q[key], v)
}
