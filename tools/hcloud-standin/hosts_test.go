package main

// The same API with real hosts (scripts/lab/testhosts.sh): a server boots, root logs in with exactly the
// server's SSH key, user data runs once, the private address answers, power actions really stop and
// start the host, and delete removes it. Needs root and systemd-nspawn; runs when HCLOUD_STANDIN_REAL_HOSTS=1
// (scripts/test-all.sh sets it), on its own rig "hcs-contract" (198.18.78.0/24, 10.9.1.0/24).

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"golang.org/x/crypto/ssh"
)

const realRig = "hcs-contract"

func testhostsScript(t *testing.T) string {
	p, err := filepath.Abs("../../scripts/lab/testhosts.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testhosts(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("bash", append([]string{testhostsScript(t)}, args...)...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("testhosts %v: %v\n%s", args, err, msg)
	}
	return string(out)
}

func sshRun(signer ssh.Signer, ip, cmd string) (string, error) {
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	c, err := ssh.Dial("tcp", net.JoinHostPort(ip, "22"), cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func TestRealHosts(t *testing.T) {
	if os.Getenv("HCLOUD_STANDIN_REAL_HOSTS") != "1" {
		t.Skip("set HCLOUD_STANDIN_REAL_HOSTS=1 (root, systemd-nspawn) to boot real hosts")
	}
	_ = exec.Command("bash", testhostsScript(t), "down", "--rig", realRig).Run()
	testhosts(t, "rig-create", "--rig", realRig, "--public-prefix", "198.18.78")
	t.Cleanup(func() { _ = exec.Command("bash", testhostsScript(t), "down", "--rig", realRig).Run() })
	hosts := &scriptHosts{script: testhostsScript(t), rig: realRig, dir: t.TempDir(), logf: t.Logf}
	e := newEnv(t, hosts, "198.18.78")

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
	key := must[*hcloud.SSHKey](t)(e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: string(ssh.MarshalAuthorizedKey(signer.PublicKey()))}))
	n := must[*hcloud.Network](t)(e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "net", IPRange: mustNet(t, "10.9.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneEUCentral, IPRange: mustNet(t, "10.9.1.0/24")}}}))

	started := time.Now()
	s := createServer(t, e, "node-1", func(o *hcloud.ServerCreateOpts) {
		o.Location = &hcloud.Location{Name: "fsn1"}
		o.SSHKeys = []*hcloud.SSHKey{key}
		o.UserData = "#!/bin/sh\necho \"user data ran at $(date +%s)\" >> /root/user-data.log\n"
	})
	t.Logf("[timing] server created and booted: %.1f s", time.Since(started).Seconds())
	ip := s.PublicNet.IPv4.IP.String()
	if ip != "198.18.78.11" {
		t.Fatalf("public IP: %s", ip)
	}
	out, err := sshRun(signer, ip, "hostname; cat /root/.ssh/authorized_keys | wc -l; cat /var/lib/cloud/instance/user-data.txt | head -1")
	if err != nil || !strings.HasPrefix(out, "node-1\n1\n#!/bin/sh") {
		t.Fatalf("login with the server's key: %q %v", out, err)
	}
	if _, err := sshRun(otherSigner, ip, "true"); err == nil {
		t.Fatal("a key that is not the server's must not log in")
	}
	waitFor(t, "user data ran", func() bool {
		o, _ := sshRun(signer, ip, "cat /root/user-data.log")
		return strings.Count(o, "user data ran") == 1
	})

	// A unit whose stop leaves a mark: a clean shutdown (ACPI) runs it, a power cut does not.
	probe := `cat > /etc/systemd/system/stop-probe.service <<'UNIT'
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=/bin/sh -c 'echo stopped >> /root/clean-stops; sync'
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload && systemctl enable --now stop-probe.service`
	if out, err := sshRun(signer, ip, probe); err != nil {
		t.Fatalf("stop probe: %q %v", out, err)
	}
	cleanStops := func(want int) {
		t.Helper()
		out, err := sshRun(signer, ip, "cat /root/clean-stops 2>/dev/null | wc -l")
		if err != nil || strings.TrimSpace(out) != fmt.Sprint(want) {
			t.Fatalf("clean stops: want %d, got %q %v", want, out, err)
		}
	}
	cleanStops(0)
	bridgePorts := func() string {
		t.Helper()
		out, err := exec.Command("bash", "-c", `source "${ETCD_CLUSTER_CACHE:-$HOME/.cache/etcd-cluster}/rigs/`+realRig+`/rig.env" && ip -o link show master "$BRIDGE" | awk -F': ' '{split($2, n, "@"); print n[1]}'`).Output()
		if err != nil {
			t.Fatalf("bridge ports: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	hostVeth := bridgePorts()
	if hostVeth == "" || strings.Contains(hostVeth, "\n") {
		t.Fatalf("the running host's ports on the rig's bridge: %q", hostVeth)
	}

	// Attach to the network with a pinned IP: the running host gets the address at once.
	waitAct(t, e)(e.c.Server.AttachToNetwork(ctx(), s, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP("10.9.1.11")}))
	if !portOpen("10.9.1.11:22") {
		t.Fatal("the private address does not answer after attach_to_network")
	}
	out, _ = sshRun(signer, ip, "ip -4 -o addr show dev host0 | awk '{print $4}' | sort | tr '\\n' ' '")
	if strings.TrimSpace(out) != "10.9.1.11/24 198.18.78.11/24" {
		t.Fatalf("host addresses: %q", out)
	}

	// Power: shutdown really stops the host; poweron boots it again with the same disk and addresses.
	started = time.Now()
	waitAct(t, e)(e.c.Server.Shutdown(ctx(), s))
	if portOpen(ip+":22") || strings.Contains(testhosts(t, "running-hosts", "--rig", realRig), fmt.Sprint(s.ID)) {
		t.Fatal("host still runs after shutdown")
	}
	if got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), s.ID)); got.Status != hcloud.ServerStatusOff {
		t.Fatalf("status after shutdown: %s", got.Status)
	}
	waitAct(t, e)(e.c.Server.Poweron(ctx(), s))
	t.Logf("[timing] shutdown + poweron: %.1f s", time.Since(started).Seconds())
	cleanStops(1) // shutdown is ACPI: the OS stopped its units
	out, err = sshRun(signer, ip, "cat /root/user-data.log | wc -l; ip -4 -o addr show dev host0 | grep -c 10.9.1.11")
	if err != nil || out != "1\n1\n" {
		t.Fatalf("after poweron: user data must not run again and the private address must stay: %q %v", out, err)
	}
	waitAct(t, e)(e.c.Server.Poweroff(ctx(), s))
	if portOpen(ip + ":22") {
		t.Fatal("host still answers after poweroff")
	}
	waitAct(t, e)(e.c.Server.Reset(ctx(), s))
	if !portOpen(ip + ":22") {
		t.Fatal("host does not answer after reset")
	}
	cleanStops(1) // poweroff and reset cut the power: no unit was stopped
	waitAct(t, e)(e.c.Server.Reboot(ctx(), s))
	if _, err := sshRun(signer, ip, "true"); err != nil {
		t.Fatalf("after reboot: %v", err)
	}
	cleanStops(2) // reboot is ACPI too

	// Delete: the host and the bridge's private address go.
	del, _, err := e.c.Server.DeleteWithResult(ctx(), s)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Action.WaitFor(ctx(), del.Action); err != nil {
		t.Fatal(err)
	}
	if running := strings.TrimSpace(testhosts(t, "running-hosts", "--rig", realRig)); running != "" {
		t.Fatalf("hosts still running after delete: %s", running)
	}
	// Only the public address is probed: its range stays on the rig's bridge. The private subnet's route
	// went with the bridge address, so a probe there would leave this machine.
	if portOpen(ip + ":22") {
		t.Fatal("the deleted server still answers")
	}
	if out, _ := exec.Command("ip", "-o", "-4", "addr", "show").Output(); strings.Contains(string(out), "10.9.1.1/24") {
		t.Fatal("the bridge keeps the subnet address of a deleted server")
	}
	// Nothing of the host stays on the machine: no port on the bridge, no veth, no disk.
	if ports := bridgePorts(); ports != "" {
		t.Fatalf("the deleted host's interface is still on the bridge: %s", ports)
	}
	if after := veths(t); slices.Contains(after, hostVeth) {
		t.Fatalf("the deleted host's veth %s is still on the machine: %v", hostVeth, after)
	}
	if out, _ := exec.Command("bash", "-c", `ls -d "${ETCD_CLUSTER_CACHE:-$HOME/.cache/etcd-cluster}/rigs/`+realRig+`"/host-* 2>/dev/null`).Output(); len(out) > 0 {
		t.Fatalf("the deleted host's directory stays: %s", out)
	}
}

// veths lists the machine's veth interfaces.
func veths(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "type", "veth").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.SplitN(l, ": ", 3); len(f) == 3 {
			name, _, _ := strings.Cut(f[1], "@")
			names = append(names, name)
		}
	}
	return names
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for: %s", what)
}
