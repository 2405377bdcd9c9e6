package main

// Lists as the API pages and sorts them: page/per_page (at most 50) with meta.pagination, and
// sort=field[:asc|desc] (repeatable), then by id.

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

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
	last := max((total+perPage-1)/perPage, 1)
	p := pagination{Page: page, PerPage: perPage, LastPage: last, TotalEntries: total}
	if page > 1 {
		prev := page - 1
		p.PreviousPage = &prev
	}
	if page < last {
		next := page + 1
		p.NextPage = &next
	}
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	return items[start:end], map[string]any{"pagination": p}, nil
}

// sortFields compares two items by one sort field of the API (id, name, created, status, ...).
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

// listResult sorts and pages items and renders the page as {key: [...], meta}.
func listResult[T any](r *http.Request, key string, items []T, fields sortFields[T], render func(T) any) (int, any, *apiError) {
	if e := sortItems(r, items, fields); e != nil {
		return fail(e)
	}
	page, meta, e := paginate(r, items)
	if e != nil {
		return fail(e)
	}
	out := make([]any, 0, len(page))
	for _, it := range page {
		out = append(out, render(it))
	}
	return http.StatusOK, map[string]any{key: out, "meta": meta}, nil
}

func byID[T any](id func(T) int64) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(id(a), id(b)) }
}
