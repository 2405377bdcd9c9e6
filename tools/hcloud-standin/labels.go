package main

// Labels as the API checks them, and label selectors as list endpoints filter by them
// (k=v, k==v, k!=v, k, !k, k in (a,b), k notin (a,b); comma-separated, all must hold).

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	labelName   = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?)?$`)
	labelPrefix = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
)

func validateLabels(labels map[string]string) *apiError {
	for k, v := range labels {
		name := k
		if prefix, rest, ok := strings.Cut(k, "/"); ok {
			if len(prefix) > 253 || !labelPrefix.MatchString(prefix) {
				return errInvalid("labels", fmt.Sprintf("label key %q has an invalid prefix", k))
			}
			name = rest
		}
		if name == "" || !labelName.MatchString(name) {
			return errInvalid("labels", fmt.Sprintf("label key %q is invalid", k))
		}
		if !labelName.MatchString(v) {
			return errInvalid("labels", fmt.Sprintf("label value %q of key %q is invalid", v, k))
		}
	}
	return nil
}

type selectorTerm struct {
	key    string
	op     string // "=", "!=", "exists", "!exists", "in", "notin"
	values []string
}

func parseSelector(sel string) ([]selectorTerm, *apiError) {
	var terms []selectorTerm
	bad := func() ([]selectorTerm, *apiError) {
		return nil, errInvalid("label_selector", fmt.Sprintf("invalid label selector %q", sel))
	}
	rest := strings.TrimSpace(sel)
	for rest != "" {
		// One expression ends at a comma outside parentheses.
		depth, end := 0, len(rest)
		for i, c := range rest {
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			} else if c == ',' && depth == 0 {
				end = i
				break
			}
		}
		expr := strings.TrimSpace(rest[:end])
		if end < len(rest) {
			rest = strings.TrimSpace(rest[end+1:])
			if rest == "" {
				return bad()
			}
		} else {
			rest = ""
		}
		var t selectorTerm
		switch {
		case strings.HasPrefix(expr, "!"):
			t = selectorTerm{key: strings.TrimSpace(expr[1:]), op: "!exists"}
		case strings.Contains(expr, "!="):
			k, v, _ := strings.Cut(expr, "!=")
			t = selectorTerm{key: strings.TrimSpace(k), op: "!=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(expr, "=="):
			k, v, _ := strings.Cut(expr, "==")
			t = selectorTerm{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(expr, "="):
			k, v, _ := strings.Cut(expr, "=")
			t = selectorTerm{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}
		case strings.Contains(expr, " notin "), strings.Contains(expr, " in "):
			op := "in"
			k, set, _ := strings.Cut(expr, " in ")
			if strings.Contains(expr, " notin ") {
				op = "notin"
				k, set, _ = strings.Cut(expr, " notin ")
			}
			set = strings.TrimSpace(set)
			if !strings.HasPrefix(set, "(") || !strings.HasSuffix(set, ")") {
				return bad()
			}
			t = selectorTerm{key: strings.TrimSpace(k), op: op}
			for _, v := range strings.Split(set[1:len(set)-1], ",") {
				t.values = append(t.values, strings.TrimSpace(v))
			}
		default:
			t = selectorTerm{key: expr, op: "exists"}
		}
		if t.key == "" || strings.ContainsAny(t.key, " ()!=") {
			return bad()
		}
		terms = append(terms, t)
	}
	return terms, nil
}

func matchSelector(terms []selectorTerm, labels map[string]string) bool {
	for _, t := range terms {
		v, has := labels[t.key]
		ok := false
		switch t.op {
		case "=":
			ok = has && v == t.values[0]
		case "!=":
			ok = !has || v != t.values[0]
		case "exists":
			ok = has
		case "!exists":
			ok = !has
		case "in", "notin":
			in := false
			for _, x := range t.values {
				in = in || (has && v == x)
			}
			ok = in == (t.op == "in")
		}
		if !ok {
			return false
		}
	}
	return true
}

func copyLabels(in *map[string]string) map[string]string {
	out := map[string]string{}
	if in != nil {
		for k, v := range *in {
			out[k] = v
		}
	}
	return out
}
