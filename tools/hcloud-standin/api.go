package main

// The HTTP side: bearer-token auth, routing to the kinds' handlers (kinds.go), JSON in and out. Shapes follow
// the Hetzner Cloud API (https://docs.hetzner.cloud); errors are in errors.go.

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
		writeError(w, errUnauthorized())
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	segs := strings.Split(path, "/")
	if len(segs) < 2 || segs[0] != "v1" {
		writeError(w, errNotFound("route"))
		return
	}
	status, body, err := a.route(r, segs[1:])
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, body)
}

// fail is a handler's answer when it refuses.
func fail(e *apiError) (int, any, *apiError) { return 0, nil, e }

func (a *API) route(r *http.Request, s []string) (int, any, *apiError) {
	res := s[0]
	m := r.Method
	// Actions of any kind: /actions, /actions/{id}, /{res}/actions, /{res}/actions/{id}, /{res}/{id}/actions.
	if res == "actions" || (len(s) >= 2 && s[1] == "actions") {
		if m != http.MethodGet {
			return fail(errMethod())
		}
		if res == "actions" {
			res, s = "", append([]string{""}, s...)
		}
		switch len(s) {
		case 2:
			return a.listActions(r, res, 0)
		case 3:
			return a.getAction(s[2], res)
		}
		return fail(errNotFound("route"))
	}
	kind, known := resourceKinds[res]
	if !known {
		return fail(errNotFound("route"))
	}
	if len(s) == 1 {
		switch {
		case m == http.MethodGet:
			return kind.list(a, r)
		case m == http.MethodPost && kind.create != nil:
			return kind.create(a, r)
		}
		return fail(errMethod())
	}
	id, perr := strconv.ParseInt(s[1], 10, 64)
	if perr != nil || id <= 0 {
		return fail(errInvalid("id", "must be a positive integer"))
	}
	if len(s) == 2 {
		switch {
		case m == http.MethodGet:
			return kind.get(a, id)
		case m == http.MethodPut && kind.update != nil:
			return kind.update(a, r, id)
		case m == http.MethodDelete && kind.remove != nil:
			return kind.remove(a, id)
		}
		return fail(errMethod())
	}
	if s[2] != "actions" || kind.exists == nil {
		return fail(errNotFound("route"))
	}
	switch {
	case len(s) == 3 && m == http.MethodGet:
		return a.listActions(r, res, id)
	case len(s) == 4 && m == http.MethodGet:
		return a.getAction(s[3], res)
	case len(s) == 4 && m == http.MethodPost:
		if fn, ok := kind.actions[s[3]]; ok {
			return fn(a, r, id)
		}
	}
	return fail(errNotFound("route"))
}

// decode reads a JSON body strictly enough to give json_error on garbage, as the API does.
func decode(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errJSON("could not read the request body")
	}
	return decodeBytes(body, v)
}

func decodeBytes(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errJSON("invalid JSON in the request body: " + err.Error())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusNoContent {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message, "details": e.Details}}
	writeJSON(w, e.Status, body)
}
