package main

import (
	"math"
	"sort"
)

// Report is the JSON summary of one history.
type Report struct {
	Verdict                   string         `json:"verdict"`
	Operations                int            `json:"operations"`
	Successes                 int            `json:"successes"`
	Failures                  int            `json:"failures"` // errors with certainly no effect: reads, writes never sent
	Unknowns                  int            `json:"unknowns"` // writes that may or may not have taken effect
	ByKind                    map[string]int `json:"byKind"`   // successes per kind
	CASSucceeded              int            `json:"casSucceeded"`
	DurationSeconds           float64        `json:"durationSeconds"`
	LongestUnavailableSeconds float64        `json:"longestUnavailableSeconds"` // longest time with no operation succeeding
	LatencyMs                 Latency        `json:"latencyMs"`                 // of successful operations
	Errors                    map[string]int `json:"errors,omitempty"`          // error text -> count (first 10 texts)
	Endpoints                 []string       `json:"endpoints,omitempty"`
	Clients                   int            `json:"clients,omitempty"`
	StoppedBy                 string         `json:"stoppedBy,omitempty"`
	History                   string         `json:"history,omitempty"`
	Visualization             string         `json:"visualization,omitempty"` // porcupine's HTML, on a violation
}

type Latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// summarize computes everything but the verdict.
func summarize(h *History) Report {
	r := Report{ByKind: map[string]int{}, Endpoints: h.Endpoints, Clients: h.Clients, StoppedBy: h.StoppedBy}
	var lat []int64
	var done []int64 // return times of successful operations
	end := h.End
	for _, o := range h.Ops {
		r.Operations++
		if o.Return > end {
			end = o.Return
		}
		switch o.Outcome {
		case OutcomeOK:
			r.Successes++
			r.ByKind[o.Kind]++
			if o.Kind == KindCAS && o.Succeeded {
				r.CASSucceeded++
			}
			lat = append(lat, o.Return-o.Call)
			done = append(done, o.Return)
			continue
		case OutcomeFailed:
			r.Failures++
		default:
			r.Unknowns++
		}
		if o.Error != "" {
			if r.Errors == nil {
				r.Errors = map[string]int{}
			}
			if _, seen := r.Errors[o.Error]; seen || len(r.Errors) < 10 {
				r.Errors[o.Error]++
			}
		}
	}
	r.DurationSeconds = seconds(end)
	r.LongestUnavailableSeconds = seconds(longestGap(done, end))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.LatencyMs = Latency{P50: millis(percentile(lat, 50)), P99: millis(percentile(lat, 99))}
	if len(lat) > 0 {
		r.LatencyMs.Max = millis(lat[len(lat)-1])
	}
	return r
}

// longestGap is the longest stretch of [0, end] in which no operation succeeded (none returned ok).
func longestGap(done []int64, end int64) int64 {
	sorted := append([]int64(nil), done...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var longest, prev int64
	for _, t := range append(sorted, end) {
		if t-prev > longest {
			longest = t - prev
		}
		prev = t
	}
	return longest
}

// percentile of sorted values, nearest-rank.
func percentile(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(p)/100*float64(len(sorted)))) - 1
	if rank < 0 {
		rank = 0
	}
	return sorted[rank]
}

func seconds(ns int64) float64 { return math.Round(float64(ns)/1e6) / 1e3 }
func millis(ns int64) float64  { return math.Round(float64(ns)/1e4) / 1e2 }
