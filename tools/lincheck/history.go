package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// Outcome of one operation as the client saw it.
const (
	OutcomeOK      = "ok"      // returned a result
	OutcomeFailed  = "failed"  // returned an error and certainly had no effect: a read, or a write never sent
	OutcomeUnknown = "unknown" // returned an error or timed out: a write may or may not have taken effect
)

// Operation kinds.
const (
	KindPut = "put" // put(key, value)
	KindGet = "get" // linearizable get(key) -> read ("" = key absent)
	KindCAS = "cas" // if value(key) == expect ("" = key absent) then put(key, value); -> succeeded
)

// Op is one recorded client operation. Times are nanoseconds since the recording started (monotonic).
type Op struct {
	Client    int    `json:"client"`
	Kind      string `json:"kind"`
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`  // put, cas: the value written (unique per write)
	Expect    string `json:"expect,omitempty"` // cas: the value compared against ("" = key absent)
	Call      int64  `json:"call"`
	Return    int64  `json:"return"` // when the client got its answer or gave up (unknown: not used by the check)
	Outcome   string `json:"outcome"`
	Read      string `json:"read,omitempty"`      // get: the value read ("" = key absent)
	Succeeded bool   `json:"succeeded,omitempty"` // cas: whether the comparison held
	Error     string `json:"error,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
}

// History is what `record` writes and `check` reads.
type History struct {
	Endpoints []string `json:"endpoints,omitempty"`
	Clients   int      `json:"clients,omitempty"`
	Keys      []string `json:"keys,omitempty"`
	StartedAt string   `json:"startedAt,omitempty"` // wall clock, RFC 3339, for people only
	End       int64    `json:"end,omitempty"`       // ns: when recording stopped (0: the last return)
	StoppedBy string   `json:"stoppedBy,omitempty"` // duration | max-ops | signal
	Ops       []Op     `json:"operations"`
}

func (o Op) validate() error {
	switch o.Kind {
	case KindPut, KindGet, KindCAS:
	default:
		return fmt.Errorf("unknown kind %q", o.Kind)
	}
	switch o.Outcome {
	case OutcomeOK, OutcomeUnknown, OutcomeFailed:
	default:
		return fmt.Errorf("unknown outcome %q", o.Outcome)
	}
	if o.Key == "" {
		return fmt.Errorf("empty key")
	}
	if o.Kind != KindGet && o.Value == "" {
		return fmt.Errorf("a %s needs a non-empty value", o.Kind)
	}
	if o.Return < o.Call {
		return fmt.Errorf("returns (%d) before its call (%d)", o.Return, o.Call)
	}
	return nil
}

func loadHistory(path string) (*History, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h History
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, o := range h.Ops {
		if err := o.validate(); err != nil {
			return nil, fmt.Errorf("%s: operation %d: %w", path, i, err)
		}
	}
	return &h, nil
}

// writeJSON writes v to path through a temporary file, so a reader never sees half a file.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
