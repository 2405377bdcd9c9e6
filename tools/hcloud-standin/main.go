// hcloud-standin: a local stand-in for the Hetzner Cloud API (https://api.hetzner.cloud/v1), close enough
// that the real hcloud Terraform/Pulumi provider and hcloud-go create, read, update and delete networks,
// subnets, servers, SSH keys, firewalls and placement groups against it, while each server is a real local
// host (scripts/lab/testhosts.sh). See README.md beside this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	addrFile := flag.String("addr-file", "", "write the API endpoint (http://HOST:PORT/v1) to this file once listening")
	tokenFile := flag.String("token-file", "", "file holding the API token clients must send as 'Authorization: Bearer TOKEN'")
	stateFile := flag.String("state", "", "persist the project's state in this JSON file (default: memory only)")
	hostsKind := flag.String("hosts", "testhosts", "where servers run: testhosts (real local hosts) or none (API only)")
	script := flag.String("testhosts", "", "path of scripts/lab/testhosts.sh (with -hosts testhosts)")
	rig := flag.String("rig", "", "testhosts rig the servers join (with -hosts testhosts; create it with testhosts.sh rig-create)")
	publicPrefix := flag.String("public-prefix", "198.18.6", "first three octets of the public IPv4 range servers get addresses from")
	workDir := flag.String("work-dir", os.TempDir(), "scratch directory for files handed to testhosts.sh")
	flag.Parse()

	logger := log.New(os.Stderr, "hcloud-standin: ", log.LstdFlags|log.Lmsgprefix)
	if err := run(*listen, *addrFile, *tokenFile, *stateFile, *hostsKind, *script, *rig, *publicPrefix, *workDir, logger); err != nil {
		logger.Printf("error: %v", err)
		os.Exit(1)
	}
}

var prefixRe = regexp.MustCompile(`^\d{1,3}\.\d{1,3}\.\d{1,3}$`)

func run(listen, addrFile, tokenFile, stateFile, hostsKind, script, rig, publicPrefix, workDir string, logger *log.Logger) error {
	if tokenFile == "" {
		return errors.New("-token-file is required")
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return errors.New("the token file is empty")
	}
	if !prefixRe.MatchString(publicPrefix) {
		return fmt.Errorf("-public-prefix %q: want A.B.C", publicPrefix)
	}
	var hosts Hosts
	switch hostsKind {
	case "none":
		hosts = apiOnlyHosts{}
	case "testhosts":
		if script == "" || rig == "" {
			return errors.New("-hosts testhosts needs -testhosts and -rig")
		}
		hosts = &scriptHosts{script: script, rig: rig, dir: workDir, logf: logger.Printf}
	default:
		return fmt.Errorf("-hosts %q: want testhosts or none", hostsKind)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %s: only loopback addresses are allowed", listen)
	}
	st, err := newStore(stateFile, hosts, publicPrefix, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	endpoint := fmt.Sprintf("http://%s/v1", ln.Addr().String())
	srv := &http.Server{Handler: &API{token: token, st: st, log: logger}, ReadHeaderTimeout: 10 * time.Second}
	if addrFile != "" {
		if err := os.WriteFile(addrFile+".tmp", []byte(endpoint+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(addrFile+".tmp", addrFile); err != nil {
			return err
		}
	}
	logger.Printf("serving the Hetzner Cloud API at %s (hosts: %s, public range %s.0/24)", endpoint, hostsKind, publicPrefix)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case sig := <-stop:
		logger.Printf("%s: stopping", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	// Host operations already started finish (each is bounded by its own timeout), so no host is left
	// half made; then the state is saved.
	done := make(chan struct{})
	go func() { st.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(6 * time.Minute):
		logger.Printf("warning: host operations still running after 6 minutes; exiting anyway")
	}
	st.mu.Lock()
	st.save()
	st.mu.Unlock()
	logger.Printf("stopped")
	return nil
}
