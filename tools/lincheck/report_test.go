package main

import "testing"

func TestSummarize(t *testing.T) {
	ms := int64(1e6)
	h := &History{End: 1000 * ms, Ops: []Op{
		put(0, "x", "a", 0, 10*ms),
		get(1, "x", "a", 100*ms, 120*ms),
		unknown(put(2, "x", "b", 130*ms, 330*ms)),
		failed(get(1, "x", "", 200*ms, 400*ms)),
		cas(0, "x", "a", "c", true, 700*ms, 730*ms), // 610 ms after the previous success: the longest gap
		cas(1, "x", "a", "d", false, 740*ms, 750*ms),
	}}
	r := summarize(h)
	if r.Operations != 6 || r.Successes != 4 || r.Unknowns != 1 || r.Failures != 1 || r.CASSucceeded != 1 {
		t.Fatalf("counts: %+v", r)
	}
	if r.ByKind[KindPut] != 1 || r.ByKind[KindGet] != 1 || r.ByKind[KindCAS] != 2 {
		t.Fatalf("by kind: %v", r.ByKind)
	}
	if r.LongestUnavailableSeconds != 0.61 || r.DurationSeconds != 1 {
		t.Fatalf("longest unavailable %v s over %v s, want 0.61 over 1", r.LongestUnavailableSeconds, r.DurationSeconds)
	}
	// Successful latencies 10, 20, 30, 10 ms: nearest-rank p50 = 10, p99 = max = 30.
	if r.LatencyMs != (Latency{P50: 10, P99: 30, Max: 30}) {
		t.Fatalf("latency: %+v", r.LatencyMs)
	}
	if r.Errors["timeout"] != 1 || r.Errors["unavailable"] != 1 {
		t.Fatalf("errors: %v", r.Errors)
	}
}

func TestLongestGap(t *testing.T) {
	for _, c := range []struct {
		done      []int64
		end, want int64
	}{
		{nil, 50, 50},                 // nothing succeeded: the whole run
		{[]int64{5, 10}, 100, 90},     // the tail after the last success counts
		{[]int64{40, 5, 12}, 45, 28},  // unsorted input
		{[]int64{30, 31, 32}, 33, 30}, // the head before the first success counts
	} {
		if got := longestGap(c.done, c.end); got != c.want {
			t.Errorf("longestGap(%v, %d) = %d, want %d", c.done, c.end, got, c.want)
		}
	}
}
