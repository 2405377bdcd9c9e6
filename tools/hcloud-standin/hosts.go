package main

// Where servers really run. scriptHosts makes each server a local Debian host (systemd-nspawn) through
// scripts/lab/testhosts.sh: one rig (a Linux bridge carrying the public range and each private subnet's first
// address), one host per server, keyed by the server ID. apiOnlyHosts runs no host at all (for the API
// contract tests): the API still behaves the same, only nothing boots.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// HostSpec is what cloud-init would get on a real server.
type HostSpec struct {
	ID             int64
	Hostname       string
	PublicIP       string   // "" when the server has no public IPv4
	PrivateIPs     []string // address/prefix length of its subnet, e.g. 10.1.1.11/24
	AuthorizedKeys []string // root's authorized_keys
	UserData       string
}

type Hosts interface {
	// Create lays out the host's disk (not booted).
	Create(ctx context.Context, spec HostSpec) error
	// Start boots the host and returns once sshd accepts connections.
	Start(ctx context.Context, id int64) error
	// Stop powers the host off: graceful (a clean shutdown, bounded) or not (killed at once).
	Stop(ctx context.Context, id int64, graceful bool) error
	// SetNetworks sets the host's private addresses (live when it runs).
	SetNetworks(ctx context.Context, id int64, privateIPs []string) error
	// Remove stops the host and deletes its disk.
	Remove(ctx context.Context, id int64) error
	// Running lists the IDs of hosts that run now.
	Running(ctx context.Context) ([]int64, error)
}

type apiOnlyHosts struct{}

func (apiOnlyHosts) Create(context.Context, HostSpec) error             { return nil }
func (apiOnlyHosts) Start(context.Context, int64) error                 { return nil }
func (apiOnlyHosts) Stop(context.Context, int64, bool) error            { return nil }
func (apiOnlyHosts) SetNetworks(context.Context, int64, []string) error { return nil }
func (apiOnlyHosts) Remove(context.Context, int64) error                { return nil }
func (apiOnlyHosts) Running(context.Context) ([]int64, error)           { return nil, nil }

// scriptHosts drives scripts/lab/testhosts.sh for one rig.
type scriptHosts struct {
	script string // path of testhosts.sh
	rig    string
	dir    string // scratch dir for key and user-data files
	logf   func(format string, args ...any)
}

func (h *scriptHosts) run(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	full := append([]string{h.script}, args...)
	cmd := exec.CommandContext(ctx, "bash", full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	started := time.Now()
	err := cmd.Run()
	h.logf("testhosts %s (%s): %s", strings.Join(args, " "), time.Since(started).Round(100*time.Millisecond), exitText(err))
	if err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return stdout.String(), fmt.Errorf("testhosts %s: %v: %s", args[0], err, tail)
	}
	return stdout.String(), nil
}

func exitText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func (h *scriptHosts) id(id int64) string { return strconv.FormatInt(id, 10) }

func (h *scriptHosts) Create(ctx context.Context, s HostSpec) error {
	keys := filepath.Join(h.dir, fmt.Sprintf("server-%d.keys", s.ID))
	var lines []string
	for _, k := range s.AuthorizedKeys {
		lines = append(lines, strings.TrimSpace(k)+"\n")
	}
	if err := os.WriteFile(keys, []byte(strings.Join(lines, "")), 0o600); err != nil {
		return err
	}
	defer os.Remove(keys)
	args := []string{"add-host", "--rig", h.rig, "--id", h.id(s.ID), "--hostname", s.Hostname, "--authorized-keys", keys}
	if s.PublicIP != "" {
		args = append(args, "--public-ip", s.PublicIP)
	}
	for _, ip := range s.PrivateIPs {
		args = append(args, "--private-ip", ip)
	}
	if s.UserData != "" {
		ud := filepath.Join(h.dir, fmt.Sprintf("server-%d.user-data", s.ID))
		if err := os.WriteFile(ud, []byte(s.UserData), 0o600); err != nil {
			return err
		}
		defer os.Remove(ud)
		args = append(args, "--user-data", ud)
	}
	_, err := h.run(ctx, 5*time.Minute, args...)
	return err
}

func (h *scriptHosts) Start(ctx context.Context, id int64) error {
	_, err := h.run(ctx, 3*time.Minute, "start-host", "--rig", h.rig, "--id", h.id(id))
	return err
}

func (h *scriptHosts) Stop(ctx context.Context, id int64, graceful bool) error {
	args := []string{"stop-host", "--rig", h.rig, "--id", h.id(id)}
	if !graceful {
		args = append(args, "--hard", "yes")
	}
	_, err := h.run(ctx, 2*time.Minute, args...)
	return err
}

func (h *scriptHosts) SetNetworks(ctx context.Context, id int64, privateIPs []string) error {
	args := []string{"set-host-networks", "--rig", h.rig, "--id", h.id(id)}
	for _, ip := range privateIPs {
		args = append(args, "--private-ip", ip)
	}
	_, err := h.run(ctx, 2*time.Minute, args...)
	return err
}

func (h *scriptHosts) Remove(ctx context.Context, id int64) error {
	_, err := h.run(ctx, 3*time.Minute, "remove-host", "--rig", h.rig, "--id", h.id(id))
	return err
}

func (h *scriptHosts) Running(ctx context.Context) ([]int64, error) {
	out, err := h.run(ctx, time.Minute, "running-hosts", "--rig", h.rig)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, f := range strings.Fields(out) {
		if n, err := strconv.ParseInt(f, 10, 64); err == nil {
			ids = append(ids, n)
		}
	}
	return ids, nil
}
