package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// etcdBinary extracts the pinned etcd (versions.json etcd.default) from the toolchain's release tarball.
func etcdBinary(t *testing.T) string {
	t.Helper()
	var versions struct {
		Etcd struct{ Default string } `json:"etcd"`
	}
	data, err := os.ReadFile("../../versions.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &versions); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("ETCD_RELEASE_DIR") // scripts/env.sh sets it
	if dir == "" {
		cache := os.Getenv("ETCD_CLUSTER_CACHE")
		if cache == "" {
			cache = filepath.Join(os.Getenv("HOME"), ".cache", "etcd-cluster")
		}
		dir = filepath.Join(cache, "etcd")
	}
	name := "etcd-v" + versions.Etcd.Default + "-linux-amd64"
	f, err := os.Open(filepath.Join(dir, name+".tar.gz"))
	if os.IsNotExist(err) {
		t.Skipf("no etcd %s in %s (run scripts/toolchain.sh)", versions.Etcd.Default, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s/etcd in the tarball: %v", name, err)
		}
		if hdr.Name == name+"/etcd" {
			bin := filepath.Join(t.TempDir(), "etcd")
			out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
			return bin
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd runs a one-member etcd on loopback for the test and returns its client URL and process.
func startEtcd(t *testing.T) (string, *os.Process) {
	t.Helper()
	bin := etcdBinary(t)
	dir := t.TempDir()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--name", "m1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "m1="+peer)
	log, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return client, cmd.Process
}

// The recorder against a real etcd, paused (SIGSTOP) for a while in the middle: every kind of operation
// succeeds, the pause shows as unknowns and as the longest unavailability, and the history is linearizable.
func TestRecordAgainstEtcd(t *testing.T) {
	endpoint, etcd := startEtcd(t)
	cfg := recordConfig{Endpoints: []string{endpoint}, Clients: 4, Keys: 2, Prefix: "/t/", Duration: 4 * time.Second,
		MaxOps: 3000, OpTimeout: 300 * time.Millisecond, Interval: 5 * time.Millisecond, BackoffOnError: 50 * time.Millisecond, Seed: 1}
	stop := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond)
		_ = etcd.Signal(syscall.SIGSTOP)
		time.Sleep(time.Second)
		_ = etcd.Signal(syscall.SIGCONT)
	}()
	h, err := record(cfg, stop)
	if err != nil {
		t.Fatal(err)
	}
	r := summarize(h)
	t.Logf("%d ops, %d ok, %d unknown, %d failed, longest unavailable %.2f s, p99 %.1f ms, errors %v",
		r.Operations, r.Successes, r.Unknowns, r.Failures, r.LongestUnavailableSeconds, r.LatencyMs.P99, r.Errors)
	if r.ByKind[KindGet] == 0 || r.ByKind[KindPut] == 0 || r.ByKind[KindCAS] == 0 || r.CASSucceeded == 0 {
		t.Fatalf("not every kind succeeded: %v, %d CAS succeeded", r.ByKind, r.CASSucceeded)
	}
	if r.Unknowns+r.Failures == 0 || r.LongestUnavailableSeconds < 0.9 {
		t.Fatalf("the 1 s pause left no trace: %d unknowns, %d failures, longest unavailable %.2f s",
			r.Unknowns, r.Failures, r.LongestUnavailableSeconds)
	}
	if h.StoppedBy != "duration" || r.Operations > cfg.MaxOps {
		t.Fatalf("stopped by %s after %d operations", h.StoppedBy, r.Operations)
	}
	if v, err := check(h, time.Minute, ""); v != Linearizable || err != nil {
		t.Fatalf("verdict %s (%v)", v, err)
	}

	// The operation cap ends a run, and a signal ends one too.
	cfg.Duration, cfg.MaxOps = time.Minute, 50
	if h, err = record(cfg, stop); err != nil || h.StoppedBy != "max-ops" || len(h.Ops) != 50 {
		t.Fatalf("max-ops: %v, stopped by %s after %d operations", err, h.StoppedBy, len(h.Ops))
	}
	cfg.MaxOps = 100000
	close(stop)
	started := time.Now()
	if h, err = record(cfg, stop); err != nil || h.StoppedBy != "signal" || time.Since(started) > 2*cfg.OpTimeout+time.Second {
		t.Fatalf("signal: %v, stopped by %s after %v", err, h.StoppedBy, time.Since(started))
	}
}
