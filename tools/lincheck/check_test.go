package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hand-made histories on one or two keys; times are arbitrary units.
func put(client int, key, v string, call, ret int64) Op {
	return Op{Client: client, Kind: KindPut, Key: key, Value: v, Call: call, Return: ret, Outcome: OutcomeOK}
}
func get(client int, key, read string, call, ret int64) Op {
	return Op{Client: client, Kind: KindGet, Key: key, Read: read, Call: call, Return: ret, Outcome: OutcomeOK}
}
func cas(client int, key, expect, v string, ok bool, call, ret int64) Op {
	return Op{Client: client, Kind: KindCAS, Key: key, Expect: expect, Value: v, Succeeded: ok, Call: call, Return: ret, Outcome: OutcomeOK}
}
func unknown(o Op) Op {
	o.Outcome, o.Read, o.Succeeded, o.Error = OutcomeUnknown, "", false, "timeout"
	return o
}
func failed(o Op) Op { o.Outcome, o.Read, o.Error = OutcomeFailed, "", "unavailable"; return o }

func verdict(t *testing.T, ops ...Op) string {
	t.Helper()
	html := filepath.Join(t.TempDir(), "v.html")
	v, err := check(&History{Ops: ops}, 10*time.Second, html)
	if err != nil {
		t.Fatal(err)
	}
	if _, statErr := os.Stat(html); (statErr == nil) != (v == NotLinearizable) {
		t.Fatalf("visualization written: %v, verdict %s: expected it exactly on a violation", statErr == nil, v)
	}
	return v
}

func TestRejectsViolations(t *testing.T) {
	cases := map[string][]Op{
		"stale read: a read after an acknowledged put returns the value before it": {
			put(0, "x", "a", 0, 10), put(0, "x", "b", 20, 30), get(1, "x", "a", 40, 50),
		},
		"acknowledged write lost: the key reads as never written after a put returned": {
			put(0, "x", "a", 0, 10), get(1, "x", "", 20, 30),
		},
		"lost update: two concurrent CAS from the same value both succeed": {
			put(0, "x", "a", 0, 10), cas(1, "x", "a", "b", true, 20, 40), cas(2, "x", "a", "c", true, 20, 40),
		},
		"lost update: a CAS succeeds on a value already overwritten": {
			put(0, "x", "a", 0, 10), put(1, "x", "b", 20, 30), cas(2, "x", "a", "c", true, 40, 50),
		},
		"write visible before it was issued": {
			get(0, "x", "a", 0, 10), put(1, "x", "a", 20, 30),
		},
		"failed CAS took effect": {
			put(0, "x", "a", 0, 10), put(0, "x", "c", 20, 30), cas(1, "x", "a", "b", false, 40, 50), get(2, "x", "b", 60, 70),
		},
		"CAS reported failed although its comparison held": {
			put(0, "x", "a", 0, 10), cas(1, "x", "a", "b", false, 20, 30),
		},
		"CAS on an absent key succeeded after the key was written": {
			put(0, "x", "a", 0, 10), cas(1, "x", "", "b", true, 20, 30),
		},
		"reads go back in time (two readers, no write between)": {
			put(0, "x", "a", 0, 10), put(0, "x", "b", 20, 100), get(1, "x", "b", 30, 40), get(2, "x", "a", 50, 60),
		},
		"violation on one key among valid ones": {
			put(0, "y", "p", 0, 10), get(1, "y", "p", 20, 30), put(0, "x", "a", 0, 10), get(1, "x", "", 20, 30),
		},
		"an unknown write cannot explain a value that was never written": {
			unknown(put(0, "x", "a", 0, 10)), get(1, "x", "z", 20, 30),
		},
		"a write that failed before it was sent took effect": {
			put(0, "x", "a", 0, 10), failed(put(1, "x", "b", 20, 30)), get(2, "x", "b", 40, 50),
		},
		"an unknown write cannot take effect before its call": {
			get(1, "x", "a", 0, 10), unknown(put(0, "x", "a", 20, 30)),
		},
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			if v := verdict(t, ops...); v != NotLinearizable {
				t.Fatalf("verdict %q, want %q", v, NotLinearizable)
			}
		})
	}
}

func TestAcceptsLinearizableHistories(t *testing.T) {
	cases := map[string][]Op{
		"sequential puts and reads": {
			put(0, "x", "a", 0, 10), get(1, "x", "a", 20, 30), put(1, "x", "b", 40, 50), get(0, "x", "b", 60, 70),
		},
		"a read before any write sees the key absent": {get(0, "x", "", 0, 10), put(1, "x", "a", 20, 30)},
		"a read concurrent with a put may see the old value": {
			put(0, "x", "a", 0, 10), put(0, "x", "b", 20, 60), get(1, "x", "a", 30, 40),
		},
		"a read concurrent with a put may see the new value": {
			put(0, "x", "a", 0, 10), put(0, "x", "b", 20, 60), get(1, "x", "b", 30, 40), get(2, "x", "b", 70, 80),
		},
		"concurrent puts in either order": {
			put(0, "x", "a", 0, 50), put(1, "x", "b", 10, 40), get(2, "x", "a", 60, 70),
		},
		"concurrent CAS: exactly one wins": {
			put(0, "x", "a", 0, 10), cas(1, "x", "a", "b", true, 20, 40), cas(2, "x", "a", "c", false, 20, 40), get(0, "x", "b", 50, 60),
		},
		"CAS on an absent key": {cas(0, "x", "", "a", true, 0, 10), cas(1, "x", "", "b", false, 20, 30), get(1, "x", "a", 40, 50)},
		"unknown put that took effect (seen long after it gave up)": {
			put(0, "x", "a", 0, 10), unknown(put(1, "x", "b", 20, 30)), get(2, "x", "a", 40, 50), get(2, "x", "b", 1000, 1010),
		},
		"unknown put that never took effect": {
			put(0, "x", "a", 0, 10), unknown(put(1, "x", "b", 20, 30)), get(2, "x", "a", 40, 50), get(2, "x", "a", 1000, 1010),
		},
		"unknown CAS that took effect": {
			put(0, "x", "a", 0, 10), unknown(cas(1, "x", "a", "b", false, 20, 30)), get(2, "x", "b", 40, 50),
		},
		"failed reads carry no information": {
			put(0, "x", "a", 0, 10), failed(get(1, "x", "", 20, 30)), get(1, "x", "a", 40, 50),
		},
		"failed writes had no effect": {
			put(0, "x", "a", 0, 10), failed(put(1, "x", "b", 20, 30)), failed(cas(1, "x", "a", "c", false, 40, 50)), get(2, "x", "a", 60, 70),
		},
		"many clients on two keys": {
			put(0, "x", "a", 0, 10), put(1, "y", "p", 0, 10),
			cas(2, "x", "a", "b", true, 15, 40), get(3, "x", "a", 16, 20), get(4, "y", "p", 16, 20),
			put(5, "y", "q", 30, 45), get(0, "x", "b", 41, 50), get(1, "y", "q", 46, 50), unknown(put(2, "y", "r", 50, 60)),
		},
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			if v := verdict(t, ops...); v != Linearizable {
				t.Fatalf("verdict %q, want %q", v, Linearizable)
			}
		})
	}
}

// The check subcommand reads a saved history and exits 1 with a visualization on a violation.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	if err := writeJSON(good, &History{Ops: []Op{put(0, "x", "a", 0, 10), get(1, "x", "a", 20, 30)}}); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(bad, &History{Ops: []Op{put(0, "x", "a", 0, 10), get(1, "x", "", 20, 30)}}); err != nil {
		t.Fatal(err)
	}
	if code, err := run([]string{"check", "--history", good}); code != 0 || err != nil {
		t.Fatalf("good history: exit %d, %v", code, err)
	}
	report := filepath.Join(dir, "bad-report.json")
	if code, err := run([]string{"check", "--history", bad, "--report", report}); code != 1 || err != nil {
		t.Fatalf("bad history: exit %d, %v; want 1", code, err)
	}
	r, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(r), `"verdict": "not linearizable"`) {
		t.Fatalf("report %s: %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad-report.html")); err != nil {
		t.Fatalf("no visualization next to the report: %v", err)
	}
	// A malformed history is a usage error, not a verdict.
	if err := os.WriteFile(bad, []byte(`{"operations":[{"kind":"put","key":"x","value":"a","outcome":"lost"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, err := run([]string{"check", "--history", bad}); code != 2 || err == nil {
		t.Fatalf("outcome lost: exit %d, %v; want 2 and an error", code, err)
	}
}
