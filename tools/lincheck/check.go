package main

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdicts.
const (
	Linearizable    = "linearizable"
	NotLinearizable = "not linearizable"
	Undetermined    = "undetermined" // the checker ran out of time
)

type kvInput struct {
	kind, key, value, expect string
}

type kvOutput struct {
	unknown   bool // the write may or may not have taken effect
	read      string
	succeeded bool
}

// kvModel is a register per key (porcupine checks each key on its own) holding the last value written;
// "" is "never written" (the recorder never deletes and never writes ""). A CAS writes when the value equals
// its expectation. An unknown-outcome write is modelled the porcupine way: its return time is infinity, so
// it may be linearized anywhere after its call, including after everything else (= it never took effect).
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.kind {
		case KindPut:
			return true, in.value
		case KindGet:
			return out.read == s, s
		case KindCAS:
			holds := s == in.expect
			if !out.unknown && out.succeeded != holds {
				return false, s
			}
			if holds {
				return true, in.value
			}
			return true, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		res := ""
		switch {
		case out.unknown:
			res = "unknown"
		case in.kind == KindGet:
			res = fmt.Sprintf("%q", out.read)
		case in.kind == KindCAS:
			res = fmt.Sprint(out.succeeded)
		default:
			res = "ok"
		}
		switch in.kind {
		case KindPut:
			return fmt.Sprintf("put(%s, %q) -> %s", in.key, in.value, res)
		case KindGet:
			return fmt.Sprintf("get(%s) -> %s", in.key, res)
		default:
			return fmt.Sprintf("cas(%s, %q -> %q) -> %s", in.key, in.expect, in.value, res)
		}
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state.(string)) },
}

// porcupineOps turns the history into porcupine's operations: failed operations are left out (no effect,
// no result), unknown reads too; unknown writes get an infinite return time.
func porcupineOps(h *History) []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, len(h.Ops))
	for _, o := range h.Ops {
		if o.Outcome == OutcomeFailed || (o.Outcome == OutcomeUnknown && o.Kind == KindGet) {
			continue
		}
		ret, out := o.Return, kvOutput{read: o.Read, succeeded: o.Succeeded}
		if o.Outcome == OutcomeUnknown {
			ret, out = math.MaxInt64, kvOutput{unknown: true}
		}
		ops = append(ops, porcupine.Operation{
			ClientId: o.Client,
			Input:    kvInput{kind: o.Kind, key: o.Key, value: o.Value, expect: o.Expect},
			Call:     o.Call,
			Output:   out,
			Return:   ret,
			Metadata: o.Endpoint,
		})
	}
	return ops
}

// check returns the verdict and, when it is not linearizable and htmlPath is set, writes porcupine's
// visualization there.
func check(h *History, timeout time.Duration, htmlPath string) (string, error) {
	model := kvModel
	model.DescribeOperationMetadata = func(info any) string { s, _ := info.(string); return s }
	res, info := porcupine.CheckOperationsVerbose(model, porcupineOps(h), timeout)
	switch res {
	case porcupine.Ok:
		return Linearizable, nil
	case porcupine.Illegal:
		if htmlPath != "" {
			if err := porcupine.VisualizePath(model, info, htmlPath); err != nil {
				return NotLinearizable, fmt.Errorf("writing the visualization: %w", err)
			}
		}
		return NotLinearizable, nil
	default:
		return Undetermined, nil
	}
}
