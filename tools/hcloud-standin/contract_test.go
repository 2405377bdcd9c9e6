package main

// Contract tests: the stand-in driven by Hetzner's own Go client (hcloud-go), each endpoint's success and
// error cases. Servers here run no host (apiOnlyHosts); hosts_test.go does the same with real hosts.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"golang.org/x/crypto/ssh"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type env struct {
	c   *hcloud.Client
	url string
	st  *Store
}

func newEnv(t *testing.T, hosts Hosts, publicPrefix string) *env {
	t.Helper()
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(testWriter{t}, "standin: ", 0)
	}
	st, err := newStore("", hosts, publicPrefix, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&API{token: testToken, st: st, log: logger})
	t.Cleanup(func() { srv.Close(); st.work.Wait() })
	c := hcloud.NewClient(hcloud.WithToken(testToken), hcloud.WithEndpoint(srv.URL+"/v1"),
		hcloud.WithPollOpts(hcloud.PollOpts{BackoffFunc: hcloud.ConstantBackoff(20 * time.Millisecond)}),
		hcloud.WithApplication("standin-contract-test", "1"))
	return &env{c: c, url: srv.URL + "/v1", st: st}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func ctx() context.Context { return context.Background() }

// wantErr checks an API error by code and HTTP status, as hcloud-go surfaces it.
func wantErr(t *testing.T, err error, code hcloud.ErrorCode, status int) hcloud.Error {
	t.Helper()
	var apiErr hcloud.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want API error %s (%d), got %v", code, status, err)
	}
	if apiErr.Code != code {
		t.Fatalf("want error code %s, got %s (%s)", code, apiErr.Code, apiErr.Message)
	}
	if got := apiErr.Response().StatusCode; got != status {
		t.Fatalf("error %s: want HTTP %d, got %d", code, status, got)
	}
	return apiErr
}

func must[T any](t *testing.T) func(v T, _ *hcloud.Response, err error) T {
	return func(v T, _ *hcloud.Response, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newPublicKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(sp)) // ends with "\n", as tls' public_key_openssh does
}

func TestAuth(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	for _, tok := range []string{"", "Bearer wrong", "Bearer " + testToken[:63], "Basic " + testToken} {
		req, _ := http.NewRequest("GET", e.url+"/servers", nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 401 || body.Error.Code != "unauthorized" {
			t.Fatalf("Authorization %q: want 401 unauthorized, got %d %+v", tok, resp.StatusCode, body)
		}
	}
	bad := hcloud.NewClient(hcloud.WithToken(strings.Repeat("x", 64)), hcloud.WithEndpoint(e.url))
	_, _, err := bad.Location.List(ctx(), hcloud.LocationListOpts{})
	wantErr(t, err, hcloud.ErrorCodeUnauthorized, 401)
	if _, err := e.c.Location.All(ctx()); err != nil {
		t.Fatalf("the right token is accepted: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	loc := must[*hcloud.Location](t)(e.c.Location.GetByName(ctx(), "ash"))
	if loc == nil || loc.NetworkZone != hcloud.NetworkZoneUSEast || loc.City != "Ashburn, VA" {
		t.Fatalf("location ash: %+v", loc)
	}
	if got := must[*hcloud.Location](t)(e.c.Location.GetByName(ctx(), "nowhere")); got != nil {
		t.Fatalf("unknown location: want nil, got %+v", got)
	}
	if got := must[*hcloud.Location](t)(e.c.Location.GetByID(ctx(), 999)); got != nil {
		t.Fatal("unknown location id: want nil (404 not_found)")
	}
	dc := must[*hcloud.Datacenter](t)(e.c.Datacenter.GetByName(ctx(), "ash-dc1"))
	if dc == nil || dc.Location.Name != "ash" || len(dc.ServerTypes.Available) == 0 {
		t.Fatalf("datacenter ash-dc1: %+v", dc)
	}
	st := must[*hcloud.ServerType](t)(e.c.ServerType.GetByName(ctx(), "cpx11"))
	if st == nil || st.Cores != 2 || st.Memory != 2 || st.Disk != 40 || st.Architecture != hcloud.ArchitectureX86 {
		t.Fatalf("server type cpx11: %+v", st)
	}
	if again := must[*hcloud.ServerType](t)(e.c.ServerType.GetByID(ctx(), st.ID)); again.Name != "cpx11" {
		t.Fatal("server type by id")
	}
	img := must[*hcloud.Image](t)(e.c.Image.GetForArchitecture(ctx(), "ubuntu-22.04", hcloud.ArchitectureX86))
	if img == nil || img.Type != hcloud.ImageTypeSystem || img.OSFlavor != "ubuntu" || img.Status != hcloud.ImageStatusAvailable {
		t.Fatalf("image ubuntu-22.04: %+v", img)
	}
	if arm := must[*hcloud.Image](t)(e.c.Image.GetForArchitecture(ctx(), "ubuntu-22.04", hcloud.ArchitectureARM)); arm != nil {
		t.Fatal("no arm images: want nil")
	}
	all, err := e.c.Location.All(ctx())
	if err != nil || len(all) != 6 {
		t.Fatalf("all locations: %d %v", len(all), err)
	}
	// The CX types are offered in eu-central only: listed, and refused elsewhere as the real API does.
	cx := must[*hcloud.ServerType](t)(e.c.ServerType.GetByName(ctx(), "cx22"))
	if names := locationNames(cx.Locations); strings.Join(names, ",") != "fsn1,nbg1,hel1" {
		t.Fatalf("cx22 locations: %v", names)
	}
	if hasType(dc.ServerTypes.Available, cx.ID) || !hasType(dc.ServerTypes.Available, st.ID) { // st: cpx11
		t.Fatalf("ash-dc1 offers: %+v", dc.ServerTypes.Available)
	}
	_, _, err = e.c.Server.Create(ctx(), hcloud.ServerCreateOpts{Name: "cx-in-ash", ServerType: &hcloud.ServerType{Name: "cx22"},
		Image: &hcloud.Image{Name: "debian-12"}, Location: &hcloud.Location{Name: "ash"}})
	if apiErr := wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422); apiErr.Message != "unsupported location for server type" {
		t.Fatalf("cx22 in ash: %q", apiErr.Message)
	}
	createServer(t, e, "cx-in-hel1", func(o *hcloud.ServerCreateOpts) {
		o.ServerType = &hcloud.ServerType{Name: "cx22"}
		o.Location = &hcloud.Location{Name: "hel1"}
	})
}

func locationNames(ls []hcloud.ServerTypeLocation) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Location.Name)
	}
	return out
}

// hasType: a datacenter lists its server types by ID only.
func hasType(ts []*hcloud.ServerType, id int64) bool {
	for _, t := range ts {
		if t.ID == id {
			return true
		}
	}
	return false
}

func TestPagination(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	for i := 0; i < 7; i++ {
		must[*hcloud.PlacementGroup](t)(func() (*hcloud.PlacementGroup, *hcloud.Response, error) {
			r, resp, err := e.c.PlacementGroup.Create(ctx(), hcloud.PlacementGroupCreateOpts{Name: fmt.Sprintf("pg-%d", i), Type: hcloud.PlacementGroupTypeSpread})
			return r.PlacementGroup, resp, err
		}())
	}
	page, resp, err := e.c.PlacementGroup.List(ctx(), hcloud.PlacementGroupListOpts{ListOpts: hcloud.ListOpts{Page: 2, PerPage: 3}})
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Meta.Pagination
	if len(page) != 3 || page[0].Name != "pg-3" || p.Page != 2 || p.PerPage != 3 || p.PreviousPage != 1 || p.NextPage != 3 || p.LastPage != 3 || p.TotalEntries != 7 {
		t.Fatalf("page 2 of 3: %d items, meta %+v", len(page), p)
	}
	all, err := e.c.PlacementGroup.AllWithOpts(ctx(), hcloud.PlacementGroupListOpts{ListOpts: hcloud.ListOpts{PerPage: 2}})
	if err != nil || len(all) != 7 {
		t.Fatalf("all pages: %d %v", len(all), err)
	}
	_, _, err = e.c.PlacementGroup.List(ctx(), hcloud.PlacementGroupListOpts{ListOpts: hcloud.ListOpts{PerPage: 51}})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	desc, _, err := e.c.PlacementGroup.List(ctx(), hcloud.PlacementGroupListOpts{Sort: []string{"name:desc"}})
	if err != nil || desc[0].Name != "pg-6" {
		t.Fatalf("sort name:desc: %v", err)
	}
}

func TestSSHKeys(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	pub := newPublicKey(t)
	k := must[*hcloud.SSHKey](t)(e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k1", PublicKey: pub, Labels: map[string]string{"a": "b"}}))
	parsed, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(pub))
	if k.PublicKey != pub || k.Fingerprint != ssh.FingerprintLegacyMD5(parsed) || k.Labels["a"] != "b" {
		t.Fatalf("created key: %+v", k)
	}
	_, _, err := e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k1", PublicKey: newPublicKey(t)})
	wantErr(t, err, hcloud.ErrorCodeUniquenessError, 409)
	_, _, err = e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k2", PublicKey: pub})
	wantErr(t, err, hcloud.ErrorCodeUniquenessError, 409)
	_, _, err = e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k3", PublicKey: "ssh-ed25519 not-a-key"})
	apiErr := wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	if d, ok := apiErr.Details.(hcloud.ErrorDetailsInvalidInput); !ok || len(d.Fields) != 1 || d.Fields[0].Name != "public_key" {
		t.Fatalf("invalid_input details name the field: %+v", apiErr.Details)
	}
	_, _, err = e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k4", PublicKey: newPublicKey(t), Labels: map[string]string{"-bad": "x"}})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	if got := must[*hcloud.SSHKey](t)(e.c.SSHKey.GetByFingerprint(ctx(), k.Fingerprint)); got == nil || got.ID != k.ID {
		t.Fatal("get by fingerprint")
	}
	if got := must[*hcloud.SSHKey](t)(e.c.SSHKey.Get(ctx(), "k1")); got == nil || got.ID != k.ID {
		t.Fatal("get by name")
	}
	upd := must[*hcloud.SSHKey](t)(e.c.SSHKey.Update(ctx(), k, hcloud.SSHKeyUpdateOpts{Name: "k1b", Labels: map[string]string{"c": "d"}}))
	if upd.Name != "k1b" || upd.Labels["c"] != "d" || upd.Labels["a"] != "" {
		t.Fatalf("updated: %+v", upd)
	}
	sel, err := e.c.SSHKey.AllWithOpts(ctx(), hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "c=d"}})
	if err != nil || len(sel) != 1 {
		t.Fatalf("label selector c=d: %d %v", len(sel), err)
	}
	none, err := e.c.SSHKey.AllWithOpts(ctx(), hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "c!=d"}})
	if err != nil || len(none) != 0 {
		t.Fatalf("label selector c!=d: %d %v", len(none), err)
	}
	_, _, err = e.c.SSHKey.List(ctx(), hcloud.SSHKeyListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "a in (b"}})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	if _, err := e.c.SSHKey.Delete(ctx(), k); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.SSHKey.Delete(ctx(), k)
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
	_, _, err = e.c.SSHKey.Update(ctx(), k, hcloud.SSHKeyUpdateOpts{Name: "x"})
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
}

func TestPlacementGroups(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	res, _, err := e.c.PlacementGroup.Create(ctx(), hcloud.PlacementGroupCreateOpts{Name: "spread", Type: hcloud.PlacementGroupTypeSpread, Labels: map[string]string{"x": "1"}})
	if err != nil || res.PlacementGroup.Type != hcloud.PlacementGroupTypeSpread || res.Action != nil {
		t.Fatalf("create: %+v %v", res, err)
	}
	_, _, err = e.c.PlacementGroup.Create(ctx(), hcloud.PlacementGroupCreateOpts{Name: "spread", Type: hcloud.PlacementGroupTypeSpread})
	wantErr(t, err, hcloud.ErrorCodeUniquenessError, 409)
	_, _, err = e.c.PlacementGroup.Create(ctx(), hcloud.PlacementGroupCreateOpts{Name: "other", Type: "cluster"})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	name := "spread-2"
	pg := must[*hcloud.PlacementGroup](t)(e.c.PlacementGroup.Update(ctx(), res.PlacementGroup, hcloud.PlacementGroupUpdateOpts{Name: name, Labels: map[string]string{"y": "2"}}))
	if pg.Name != name || pg.Labels["y"] != "2" {
		t.Fatalf("update: %+v", pg)
	}
	if _, err := e.c.PlacementGroup.Delete(ctx(), pg); err != nil {
		t.Fatal(err)
	}
	if got := must[*hcloud.PlacementGroup](t)(e.c.PlacementGroup.GetByID(ctx(), pg.ID)); got != nil {
		t.Fatal("deleted group still there")
	}
	_, err = e.c.PlacementGroup.Delete(ctx(), pg)
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
}

func mustNet(t *testing.T, p string) *net.IPNet {
	_, n, err := net.ParseCIDR(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNetworksAndSubnets(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	n := must[*hcloud.Network](t)(e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "net", IPRange: mustNet(t, "10.1.0.0/16"), Labels: map[string]string{"etcd": "true"}}))
	if n.IPRange.String() != "10.1.0.0/16" || len(n.Subnets) != 0 || n.Labels["etcd"] != "true" {
		t.Fatalf("created: %+v", n)
	}
	_, _, err := e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "net", IPRange: mustNet(t, "10.2.0.0/16")})
	wantErr(t, err, hcloud.ErrorCodeUniquenessError, 409)
	_, _, err = e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "public", IPRange: mustNet(t, "8.8.0.0/16")})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)

	act := must[*hcloud.Action](t)(e.c.Network.AddSubnet(ctx(), n, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSEast, IPRange: mustNet(t, "10.1.1.0/24")}}))
	if err := e.c.Action.WaitFor(ctx(), act); err != nil || act.Command != "add_subnet" {
		t.Fatalf("add_subnet action: %+v %v", act, err)
	}
	n = must[*hcloud.Network](t)(e.c.Network.GetByID(ctx(), n.ID))
	if len(n.Subnets) != 1 || n.Subnets[0].Gateway.String() != "10.1.0.1" || n.Subnets[0].NetworkZone != hcloud.NetworkZoneUSEast {
		t.Fatalf("subnet: %+v", n.Subnets)
	}
	for _, bad := range []hcloud.NetworkSubnet{
		{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSEast, IPRange: mustNet(t, "10.1.1.0/25")},   // overlaps
		{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSEast, IPRange: mustNet(t, "10.9.0.0/24")},   // outside
		{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: "moon-1", IPRange: mustNet(t, "10.1.2.0/24")},                   // zone
		{Type: hcloud.NetworkSubnetTypeVSwitch, NetworkZone: hcloud.NetworkZoneUSEast, IPRange: mustNet(t, "10.1.3.0/24")}, // no vSwitch
	} {
		_, _, err = e.c.Network.AddSubnet(ctx(), n, hcloud.NetworkAddSubnetOpts{Subnet: bad})
		wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	}
	must[*hcloud.Action](t)(e.c.Network.AddRoute(ctx(), n, hcloud.NetworkAddRouteOpts{Route: hcloud.NetworkRoute{Destination: mustNet(t, "10.100.0.0/24"), Gateway: net.ParseIP("10.1.1.5")}}))
	_, _, err = e.c.Network.AddRoute(ctx(), n, hcloud.NetworkAddRouteOpts{Route: hcloud.NetworkRoute{Destination: mustNet(t, "10.100.0.0/24"), Gateway: net.ParseIP("192.168.0.1")}})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	must[*hcloud.Action](t)(e.c.Network.DeleteRoute(ctx(), n, hcloud.NetworkDeleteRouteOpts{Route: hcloud.NetworkRoute{Destination: mustNet(t, "10.100.0.0/24"), Gateway: net.ParseIP("10.1.1.5")}}))
	upd := must[*hcloud.Network](t)(e.c.Network.Update(ctx(), n, hcloud.NetworkUpdateOpts{Name: "net2", Labels: map[string]string{"cluster": "c2"}}))
	if upd.Name != "net2" || upd.Labels["cluster"] != "c2" || len(upd.Labels) != 1 {
		t.Fatalf("update: %+v", upd)
	}
	must[*hcloud.Action](t)(e.c.Network.ChangeIPRange(ctx(), n, hcloud.NetworkChangeIPRangeOpts{IPRange: mustNet(t, "10.0.0.0/15")}))
	_, _, err = e.c.Network.ChangeIPRange(ctx(), n, hcloud.NetworkChangeIPRangeOpts{IPRange: mustNet(t, "10.0.0.0/16")})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	must[*hcloud.Action](t)(e.c.Network.ChangeProtection(ctx(), n, hcloud.NetworkChangeProtectionOpts{Delete: hcloud.Ptr(true)}))
	_, err = e.c.Network.Delete(ctx(), n)
	wantErr(t, err, hcloud.ErrorCodeProtected, 423)
	must[*hcloud.Action](t)(e.c.Network.ChangeProtection(ctx(), n, hcloud.NetworkChangeProtectionOpts{Delete: hcloud.Ptr(false)}))
	must[*hcloud.Action](t)(e.c.Network.DeleteSubnet(ctx(), n, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: mustNet(t, "10.1.1.0/24")}}))
	_, _, err = e.c.Network.DeleteSubnet(ctx(), n, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: mustNet(t, "10.1.1.0/24")}})
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
	if _, err := e.c.Network.Delete(ctx(), n); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Network.Delete(ctx(), n)
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
	// Actions of a resource, and of all networks.
	acts, err := e.c.Network.Action.All(ctx(), hcloud.ActionListOpts{})
	if err != nil || len(acts) < 6 {
		t.Fatalf("network actions: %d %v", len(acts), err)
	}
	one := must[*hcloud.Action](t)(e.c.Action.GetByID(ctx(), acts[0].ID))
	if one == nil || one.Status != hcloud.ActionStatusSuccess || one.Resources[0].Type != "network" {
		t.Fatalf("action by id: %+v", one)
	}
	if got := must[*hcloud.Action](t)(e.c.Action.GetByID(ctx(), 1)); got != nil {
		t.Fatal("unknown action: want nil (404)")
	}
}

func TestFirewalls(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	rule := hcloud.FirewallRule{Direction: hcloud.FirewallRuleDirectionIn, Protocol: hcloud.FirewallRuleProtocolTCP, Port: hcloud.Ptr("22"),
		SourceIPs: []net.IPNet{*mustNet(t, "0.0.0.0/0"), *mustNet(t, "::/0")}, Description: hcloud.Ptr("ssh")}
	res, _, err := e.c.Firewall.Create(ctx(), hcloud.FirewallCreateOpts{Name: "fw", Labels: map[string]string{"a": "b"}, Rules: []hcloud.FirewallRule{rule}})
	if err != nil {
		t.Fatal(err)
	}
	fw := res.Firewall
	if len(fw.Rules) != 1 || *fw.Rules[0].Port != "22" || len(fw.Rules[0].SourceIPs) != 2 || *fw.Rules[0].Description != "ssh" {
		t.Fatalf("rules: %+v", fw.Rules)
	}
	_, _, err = e.c.Firewall.Create(ctx(), hcloud.FirewallCreateOpts{Name: "fw"})
	wantErr(t, err, hcloud.ErrorCodeUniquenessError, 409)
	for _, bad := range []hcloud.FirewallRule{
		{Direction: "sideways", Protocol: "tcp", Port: hcloud.Ptr("22"), SourceIPs: rule.SourceIPs},
		{Direction: "in", Protocol: "tcp", SourceIPs: rule.SourceIPs},                            // tcp without a port
		{Direction: "in", Protocol: "icmp", Port: hcloud.Ptr("22"), SourceIPs: rule.SourceIPs},   // icmp with a port
		{Direction: "in", Protocol: "tcp", Port: hcloud.Ptr("70000"), SourceIPs: rule.SourceIPs}, // port out of range
		{Direction: "in", Protocol: "tcp", Port: hcloud.Ptr("22")},                               // no source
	} {
		_, _, err = e.c.Firewall.Create(ctx(), hcloud.FirewallCreateOpts{Name: "bad", Rules: []hcloud.FirewallRule{bad}})
		wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	}
	rule2 := rule
	rule2.Port = hcloud.Ptr("2379-2380")
	acts := must[[]*hcloud.Action](t)(e.c.Firewall.SetRules(ctx(), fw, hcloud.FirewallSetRulesOpts{Rules: []hcloud.FirewallRule{rule, rule2}}))
	if len(acts) != 1 || acts[0].Command != "set_firewall_rules" {
		t.Fatalf("set_rules actions: %+v", acts)
	}
	if err := e.c.Action.WaitFor(ctx(), acts...); err != nil {
		t.Fatal(err)
	}
	srv := createServer(t, e, "fw-target", nil)
	acts = must[[]*hcloud.Action](t)(e.c.Firewall.ApplyResources(ctx(), fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: srv.ID}}}))
	if len(acts) != 1 || acts[0].Command != "apply_firewall" {
		t.Fatalf("apply actions: %+v", acts)
	}
	_, _, err = e.c.Firewall.ApplyResources(ctx(), fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: srv.ID}}})
	wantErr(t, err, hcloud.ErrorCodeFirewallAlreadyApplied, 422)
	_, _, err = e.c.Firewall.ApplyResources(ctx(), fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: 42}}})
	wantErr(t, err, hcloud.ErrorCodeFirewallResourceNotFound, 422)
	must[[]*hcloud.Action](t)(e.c.Firewall.ApplyResources(ctx(), fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeLabelSelector, LabelSelector: &hcloud.FirewallResourceLabelSelector{Selector: "role=etcd"}}}))
	got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), srv.ID))
	if len(got.PublicNet.Firewalls) != 1 || got.PublicNet.Firewalls[0].Firewall.ID != fw.ID || got.PublicNet.Firewalls[0].Status != hcloud.FirewallStatusApplied {
		t.Fatalf("server's firewalls: %+v", got.PublicNet.Firewalls)
	}
	fw = must[*hcloud.Firewall](t)(e.c.Firewall.GetByID(ctx(), fw.ID))
	if len(fw.AppliedTo) != 2 || len(fw.AppliedTo[1].AppliedToResources) != 1 {
		t.Fatalf("applied_to: %+v", fw.AppliedTo)
	}
	_, err = e.c.Firewall.Delete(ctx(), fw)
	wantErr(t, err, hcloud.ErrorCodeResourceInUse, 422)
	must[[]*hcloud.Action](t)(e.c.Firewall.RemoveResources(ctx(), fw, fw.AppliedTo))
	_, _, err = e.c.Firewall.RemoveResources(ctx(), fw, []hcloud.FirewallResource{{Type: hcloud.FirewallResourceTypeServer, Server: &hcloud.FirewallResourceServer{ID: srv.ID}}})
	wantErr(t, err, hcloud.ErrorCodeFirewallResourceNotFound, 422)
	upd := must[*hcloud.Firewall](t)(e.c.Firewall.Update(ctx(), fw, hcloud.FirewallUpdateOpts{Name: "fw2", Labels: map[string]string{"z": "1"}}))
	if upd.Name != "fw2" || upd.Labels["z"] != "1" {
		t.Fatalf("update: %+v", upd)
	}
	if _, err := e.c.Firewall.Delete(ctx(), fw); err != nil {
		t.Fatal(err)
	}
	if got := must[*hcloud.Firewall](t)(e.c.Firewall.GetByID(ctx(), fw.ID)); got != nil {
		t.Fatal("deleted firewall still there")
	}
}

// createServer creates a cpx11 ubuntu-22.04 server in ash and waits for its actions.
func createServer(t *testing.T, e *env, name string, mod func(*hcloud.ServerCreateOpts)) *hcloud.Server {
	t.Helper()
	opts := hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cpx11"}, Image: &hcloud.Image{Name: "ubuntu-22.04"},
		Location: &hcloud.Location{Name: "ash"}, Labels: map[string]string{"role": "etcd"}}
	if mod != nil {
		mod(&opts)
	}
	res, _, err := e.c.Server.Create(ctx(), opts)
	if err != nil {
		t.Fatalf("create server %s: %v", name, err)
	}
	if res.Action.Command != "create_server" {
		t.Fatalf("create action: %+v", res.Action)
	}
	if err := e.c.Action.WaitFor(ctx(), append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatalf("server %s actions: %v", name, err)
	}
	return must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), res.Server.ID))
}

func TestServers(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	key := must[*hcloud.SSHKey](t)(e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: newPublicKey(t)}))
	n := must[*hcloud.Network](t)(e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "net", IPRange: mustNet(t, "10.1.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSEast, IPRange: mustNet(t, "10.1.1.0/24")}}}))
	pgRes, _, _ := e.c.PlacementGroup.Create(ctx(), hcloud.PlacementGroupCreateOpts{Name: "pg", Type: hcloud.PlacementGroupTypeSpread})
	fwRes, _, _ := e.c.Firewall.Create(ctx(), hcloud.FirewallCreateOpts{Name: "fw"})

	res, _, err := e.c.Server.Create(ctx(), hcloud.ServerCreateOpts{Name: "etcd-1", ServerType: &hcloud.ServerType{Name: "cpx11"},
		Image: &hcloud.Image{Name: "ubuntu-22.04"}, Location: &hcloud.Location{Name: "ash"}, SSHKeys: []*hcloud.SSHKey{key},
		Labels: map[string]string{"etcd": "true"}, PlacementGroup: pgRes.PlacementGroup, Networks: []*hcloud.Network{n},
		Firewalls: []*hcloud.ServerCreateFirewall{{Firewall: *fwRes.Firewall}}, UserData: "#cloud-config\n",
		PublicNet: &hcloud.ServerCreatePublicNet{EnableIPv4: true, EnableIPv6: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Server.Status != hcloud.ServerStatusInitializing || res.RootPassword != "" || len(res.NextActions) != 1 || res.NextActions[0].Command != "start_server" {
		t.Fatalf("create response: status %s, next %+v", res.Server.Status, res.NextActions)
	}
	if err := e.c.Action.WaitFor(ctx(), append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatal(err)
	}
	s := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), res.Server.ID))
	if s.Status != hcloud.ServerStatusRunning || s.PublicNet.IPv4.IP.String() != "198.18.99.11" || s.PublicNet.IPv6.Network == nil ||
		s.Location.Name != "ash" || s.ServerType.Name != "cpx11" || s.Image.Name != "ubuntu-22.04" || s.PrimaryDiskSize != 40 ||
		s.PlacementGroup == nil || s.PlacementGroup.ID != pgRes.PlacementGroup.ID || len(s.PublicNet.Firewalls) != 1 ||
		len(s.PrivateNet) != 1 || s.PrivateNet[0].IP.String() != "10.1.1.2" || s.Datacenter.Name != "ash-dc1" {
		t.Fatalf("server: %+v", s)
	}
	if pg := must[*hcloud.PlacementGroup](t)(e.c.PlacementGroup.GetByID(ctx(), pgRes.PlacementGroup.ID)); len(pg.Servers) != 1 {
		t.Fatalf("placement group servers: %v", pg.Servers)
	}
	if nw := must[*hcloud.Network](t)(e.c.Network.GetByID(ctx(), n.ID)); len(nw.Servers) != 1 || nw.Servers[0].ID != s.ID {
		t.Fatalf("network servers: %v", nw.Servers)
	}

	// Errors on create.
	base := func(name string) hcloud.ServerCreateOpts {
		return hcloud.ServerCreateOpts{Name: name, ServerType: &hcloud.ServerType{Name: "cpx11"}, Image: &hcloud.Image{Name: "ubuntu-22.04"}, Location: &hcloud.Location{Name: "ash"}}
	}
	_, _, err = e.c.Server.Create(ctx(), base("etcd-1"))
	wantErr(t, err, hcloud.ErrorCodeUniquenessError, 409)
	for _, mod := range []func(o *hcloud.ServerCreateOpts){
		func(o *hcloud.ServerCreateOpts) { o.Name = "bad_name!" },
		func(o *hcloud.ServerCreateOpts) { o.ServerType = &hcloud.ServerType{Name: "cpx999"} },
		func(o *hcloud.ServerCreateOpts) { o.Image = &hcloud.Image{Name: "windows-95"} },
		func(o *hcloud.ServerCreateOpts) { o.Location = &hcloud.Location{Name: "moon"} },
		func(o *hcloud.ServerCreateOpts) { o.SSHKeys = []*hcloud.SSHKey{{ID: 77}} },
		func(o *hcloud.ServerCreateOpts) { o.Labels = map[string]string{"k": "bad value"} },
		func(o *hcloud.ServerCreateOpts) { o.UserData = strings.Repeat("x", 33*1024) },
	} {
		o := base("etcd-x")
		mod(&o)
		_, _, err = e.c.Server.Create(ctx(), o)
		wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	}

	// Update labels and name in place; the ID stays.
	upd := must[*hcloud.Server](t)(e.c.Server.Update(ctx(), s, hcloud.ServerUpdateOpts{Labels: map[string]string{"etcd": "true", "cluster": "c2"}}))
	if upd.ID != s.ID || upd.Labels["cluster"] != "c2" {
		t.Fatalf("update: %+v", upd.Labels)
	}
	byLabel, err := e.c.Server.AllWithOpts(ctx(), hcloud.ServerListOpts{ListOpts: hcloud.ListOpts{LabelSelector: "cluster=c2,etcd"}})
	if err != nil || len(byLabel) != 1 {
		t.Fatalf("servers by label: %d %v", len(byLabel), err)
	}

	// Networks: detach, attach with a pinned IP, errors.
	waitAct(t, e)(e.c.Server.DetachFromNetwork(ctx(), s, hcloud.ServerDetachFromNetworkOpts{Network: n}))
	_, _, err = e.c.Server.DetachFromNetwork(ctx(), s, hcloud.ServerDetachFromNetworkOpts{Network: n})
	wantErr(t, err, hcloud.ErrorCodeServerNotAttachedToNetwork, 422)
	for ip, code := range map[string]hcloud.ErrorCode{"10.1.1.1": hcloud.ErrorCodeIPNotAvailable, "10.1.1.255": hcloud.ErrorCodeIPNotAvailable, "10.1.9.9": hcloud.ErrorCodeInvalidInput} {
		_, _, err = e.c.Server.AttachToNetwork(ctx(), s, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP(ip)})
		wantErr(t, err, code, 422)
	}
	waitAct(t, e)(e.c.Server.AttachToNetwork(ctx(), s, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP("10.1.1.11")}))
	_, _, err = e.c.Server.AttachToNetwork(ctx(), s, hcloud.ServerAttachToNetworkOpts{Network: n})
	wantErr(t, err, hcloud.ErrorCodeServerAlreadyAttached, 422)
	s2 := createServer(t, e, "etcd-2", nil)
	_, _, err = e.c.Server.AttachToNetwork(ctx(), s2, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP("10.1.1.11")})
	wantErr(t, err, hcloud.ErrorCodeIPNotAvailable, 422)
	eu := createServer(t, e, "eu-1", func(o *hcloud.ServerCreateOpts) { o.Location = &hcloud.Location{Name: "fsn1"} })
	_, _, err = e.c.Server.AttachToNetwork(ctx(), eu, hcloud.ServerAttachToNetworkOpts{Network: n})
	wantErr(t, err, hcloud.ErrorCodeNoSubnetAvailable, 422)
	waitAct(t, e)(e.c.Server.ChangeAliasIPs(ctx(), s, hcloud.ServerChangeAliasIPsOpts{Network: n, AliasIPs: []net.IP{net.ParseIP("10.1.1.50")}}))
	if got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), s.ID)); got.PrivateNet[0].IP.String() != "10.1.1.11" || len(got.PrivateNet[0].Aliases) != 1 {
		t.Fatalf("private net after attach: %+v", got.PrivateNet)
	}
	// A subnet with a server on it cannot go.
	_, _, err = e.c.Network.DeleteSubnet(ctx(), n, hcloud.NetworkDeleteSubnetOpts{Subnet: hcloud.NetworkSubnet{IPRange: mustNet(t, "10.1.1.0/24")}})
	wantErr(t, err, hcloud.ErrorCodeServiceError, 422)

	// Power actions and what they need.
	waitAct(t, e)(e.c.Server.Shutdown(ctx(), s))
	if got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), s.ID)); got.Status != hcloud.ServerStatusOff {
		t.Fatalf("after shutdown: %s", got.Status)
	}
	waitAct(t, e)(e.c.Server.Poweroff(ctx(), s)) // already off: a finished action, no error
	waitAct(t, e)(e.c.Server.RemoveFromPlacementGroup(ctx(), s))
	waitAct(t, e)(e.c.Server.AddToPlacementGroup(ctx(), s, pgRes.PlacementGroup))
	waitAct(t, e)(e.c.Server.ChangeType(ctx(), s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cpx21"}, UpgradeDisk: true}))
	waitAct(t, e)(e.c.Server.Poweron(ctx(), s))
	got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), s.ID))
	if got.Status != hcloud.ServerStatusRunning || got.ServerType.Name != "cpx21" || got.PrimaryDiskSize != 80 {
		t.Fatalf("after poweron: %s %s %d", got.Status, got.ServerType.Name, got.PrimaryDiskSize)
	}
	_, _, err = e.c.Server.RemoveFromPlacementGroup(ctx(), s)
	wantErr(t, err, hcloud.ErrorCodeServerNotStopped, 422)
	_, _, err = e.c.Server.ChangeType(ctx(), s, hcloud.ServerChangeTypeOpts{ServerType: &hcloud.ServerType{Name: "cpx31"}})
	wantErr(t, err, hcloud.ErrorCodeServerNotStopped, 422)
	waitAct(t, e)(e.c.Server.Reboot(ctx(), s))
	waitAct(t, e)(e.c.Server.Reset(ctx(), s))
	waitAct(t, e)(e.c.Server.Poweroff(ctx(), s))
	waitAct(t, e)(e.c.Server.Poweron(ctx(), s))
	_, _, err = e.c.Server.RequestConsole(ctx(), s)
	wantErr(t, err, hcloud.ErrorUnsupportedError, 422)

	// Server actions by resource.
	acts, err := e.c.Server.Action.AllFor(ctx(), s, hcloud.ActionListOpts{})
	if err != nil || len(acts) < 10 {
		t.Fatalf("server's actions: %d %v", len(acts), err)
	}
	// Protection, then delete.
	waitAct(t, e)(e.c.Server.ChangeProtection(ctx(), s, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(true), Rebuild: hcloud.Ptr(true)}))
	_, _, err = e.c.Server.DeleteWithResult(ctx(), s)
	wantErr(t, err, hcloud.ErrorCodeProtected, 423)
	waitAct(t, e)(e.c.Server.ChangeProtection(ctx(), s, hcloud.ServerChangeProtectionOpts{Delete: hcloud.Ptr(false), Rebuild: hcloud.Ptr(false)}))
	for _, srv := range []*hcloud.Server{s, s2, eu} {
		del, _, err := e.c.Server.DeleteWithResult(ctx(), srv)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.c.Action.WaitFor(ctx(), del.Action); err != nil || del.Action.Command != "delete_server" {
			t.Fatalf("delete: %v", err)
		}
	}
	if got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), s.ID)); got != nil {
		t.Fatal("deleted server still there")
	}
	_, _, err = e.c.Server.Poweron(ctx(), s)
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
	// A server created again under the same name gets a new primary IP, as on Hetzner: not the deleted one's.
	again := must[hcloud.ServerCreateResult](t)(e.c.Server.Create(ctx(), base("etcd-1")))
	if ip := again.Server.PublicNet.IPv4.IP.String(); ip == s.PublicNet.IPv4.IP.String() || !strings.HasPrefix(ip, "198.18.99.") {
		t.Fatalf("recreated server's public IPv4 %s (the deleted one had %s)", ip, s.PublicNet.IPv4.IP)
	}
	_, err = e.c.Server.Action.AllFor(ctx(), s, hcloud.ActionListOpts{})
	wantErr(t, err, hcloud.ErrorCodeNotFound, 404)
	fw := must[*hcloud.Firewall](t)(e.c.Firewall.GetByID(ctx(), fwRes.Firewall.ID))
	if len(fw.AppliedTo) != 0 {
		t.Fatalf("a deleted server leaves its firewalls: %+v", fw.AppliedTo)
	}
	if nw := must[*hcloud.Network](t)(e.c.Network.GetByID(ctx(), n.ID)); len(nw.Servers) != 0 {
		t.Fatalf("a deleted server leaves its networks: %v", nw.Servers)
	}
}

func waitAct(t *testing.T, e *env) func(a *hcloud.Action, _ *hcloud.Response, err error) {
	return func(a *hcloud.Action, _ *hcloud.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.c.Action.WaitFor(ctx(), a); err != nil {
			t.Fatalf("action %s: %v", a.Command, err)
		}
	}
}

func TestLockedWhileAnActionRuns(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, &slowHosts{gate: gate}, "198.18.99")
	res, _, err := e.c.Server.Create(ctx(), hcloud.ServerCreateOpts{Name: "slow", ServerType: &hcloud.ServerType{Name: "cpx11"}, Image: &hcloud.Image{Name: "ubuntu-22.04"}})
	if err != nil {
		t.Fatal(err)
	}
	got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), res.Server.ID))
	if !got.Locked || got.Status != hcloud.ServerStatusInitializing {
		t.Fatalf("while creating: locked=%v status=%s", got.Locked, got.Status)
	}
	_, _, err = e.c.Server.Poweroff(ctx(), res.Server)
	wantErr(t, err, hcloud.ErrorCodeLocked, 423)
	running, err := e.c.Action.AllWithOpts(ctx(), hcloud.ActionListOpts{ID: []int64{res.Action.ID}, Status: []hcloud.ActionStatus{hcloud.ActionStatusRunning}})
	if err != nil || len(running) != 1 {
		t.Fatalf("running action: %d %v", len(running), err)
	}
	close(gate)
	if err := e.c.Action.WaitFor(ctx(), append([]*hcloud.Action{res.Action}, res.NextActions...)...); err != nil {
		t.Fatal(err)
	}
	if got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), res.Server.ID)); got.Locked || got.Status != hcloud.ServerStatusRunning {
		t.Fatalf("after: locked=%v status=%s", got.Locked, got.Status)
	}
}

func TestHostFailureFailsTheAction(t *testing.T) {
	e := newEnv(t, failingHosts{}, "198.18.99")
	res, _, err := e.c.Server.Create(ctx(), hcloud.ServerCreateOpts{Name: "doomed", ServerType: &hcloud.ServerType{Name: "cpx11"}, Image: &hcloud.Image{Name: "ubuntu-22.04"}})
	if err != nil {
		t.Fatal(err)
	}
	err = e.c.Action.WaitFor(ctx(), res.Action)
	var actErr hcloud.ActionError
	if !errors.As(err, &actErr) || actErr.Code != "server_error" {
		t.Fatalf("want the action to fail with server_error, got %v", err)
	}
}

func TestJSONAndRouting(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	do := func(method, path, body string) (int, string) {
		status, b := e.raw(t, method, path, body)
		code, _ := b["error"].(map[string]any)["code"].(string)
		return status, code
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/networks", "{not json", 400, "json_error"},
		{"GET", "/no_such_things", "", 404, "not_found"},
		{"GET", "/servers/abc", "", 422, "invalid_input"},
		{"GET", "/servers/123", "", 404, "not_found"},
		{"DELETE", "/locations/1", "", 405, "method_not_allowed"},
		{"POST", "/servers/123/actions/fly", "", 404, "not_found"},
		{"GET", "/actions?status=bogus", "", 422, "invalid_input"},
	} {
		if status, code := do(c.method, c.path, c.body); status != c.status || code != c.code {
			t.Errorf("%s %s: want %d %s, got %d %s", c.method, c.path, c.status, c.code, status, code)
		}
	}
}

// raw sends one request as a client other than hcloud-go would (the hcloud CLI, curl) and decodes the answer.
func (e *env) raw(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&b)
	if b["error"] == nil {
		b["error"] = map[string]any{}
	}
	return resp.StatusCode, b
}

// The API takes a location, datacenter, server type and image by name or by ID; the hcloud CLI (v1.67)
// sends `--location fsn1` as "location": "1".
func TestCreateByNameOrID(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	for i, c := range []struct {
		fields, location string
	}{
		{`"location": "1"`, "fsn1"},
		{`"location": "nbg1"`, "nbg1"},
		{`"datacenter": "3"`, "hel1"},
		{`"datacenter": "ash-dc1"`, "ash"},
		{`"location": "3", "server_type": "22", "image": "114690387"`, "hel1"},
		{`"location": "2", "server_type": 22, "image": 114690387`, "nbg1"},
	} {
		body := fmt.Sprintf(`{"name": "by-id-%d", "server_type": "cpx11", "image": "debian-12", %s}`, i, c.fields)
		status, b := e.raw(t, "POST", "/servers", body)
		sv, _ := b["server"].(map[string]any)
		if status != 201 || sv == nil {
			t.Fatalf("%s: want 201, got %d %v", c.fields, status, b["error"])
		}
		if got := sv["location"].(map[string]any)["name"]; got != c.location {
			t.Fatalf("%s: location %v, want %s", c.fields, got, c.location)
		}
		if got := sv["server_type"].(map[string]any)["name"]; got != "cpx11" {
			t.Fatalf("%s: server type %v", c.fields, got)
		}
	}
	for _, bad := range []string{`"location": "99", "server_type": "cpx11", "image": "debian-12"`, `"location": "fsn9", "server_type": "cpx11", "image": "debian-12"`,
		`"datacenter": "99", "server_type": "cpx11", "image": "debian-12"`, `"server_type": "9999", "image": "debian-12"`, `"server_type": "cpx11", "image": "1"`} {
		body := fmt.Sprintf(`{"name": "bad", %s}`, bad)
		if status, b := e.raw(t, "POST", "/servers", body); status != 422 || b["error"].(map[string]any)["code"] != "invalid_input" {
			t.Fatalf("%s: want 422 invalid_input, got %d %v", bad, status, b["error"])
		}
	}
}

// Every location of a network zone shares its subnets; a server outside the zone gets none of them, as the
// real API refuses a cross-zone attachment.
func TestNetworkZones(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	n := must[*hcloud.Network](t)(e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "eu", IPRange: mustNet(t, "10.5.0.0/16"),
		Subnets: []hcloud.NetworkSubnet{{Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneEUCentral, IPRange: mustNet(t, "10.5.1.0/24")}}}))
	ips := map[string]bool{}
	for _, loc := range []string{"fsn1", "nbg1", "hel1"} {
		s := createServer(t, e, "eu-"+loc, func(o *hcloud.ServerCreateOpts) {
			o.Location = &hcloud.Location{Name: loc}
			o.Networks = []*hcloud.Network{n}
		})
		if s.Location.Name != loc || len(s.PrivateNet) != 1 || !mustNet(t, "10.5.1.0/24").Contains(s.PrivateNet[0].IP) || ips[s.PrivateNet[0].IP.String()] {
			t.Fatalf("server in %s: location %s, private net %+v", loc, s.Location.Name, s.PrivateNet)
		}
		ips[s.PrivateNet[0].IP.String()] = true
	}
	if got := must[*hcloud.Network](t)(e.c.Network.GetByID(ctx(), n.ID)); len(got.Servers) != 3 {
		t.Fatalf("the network has %d servers, want 3", len(got.Servers))
	}
	// us-east: neither at create nor by attach_to_network, with or without an address of the eu subnet.
	_, _, err := e.c.Server.Create(ctx(), hcloud.ServerCreateOpts{Name: "us-1", ServerType: &hcloud.ServerType{Name: "cpx11"},
		Image: &hcloud.Image{Name: "debian-12"}, Location: &hcloud.Location{Name: "ash"}, Networks: []*hcloud.Network{n}})
	wantErr(t, err, hcloud.ErrorCodeNoSubnetAvailable, 422)
	us := createServer(t, e, "us-1", nil)
	_, _, err = e.c.Server.AttachToNetwork(ctx(), us, hcloud.ServerAttachToNetworkOpts{Network: n})
	wantErr(t, err, hcloud.ErrorCodeNoSubnetAvailable, 422)
	_, _, err = e.c.Server.AttachToNetwork(ctx(), us, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP("10.5.1.60")})
	wantErr(t, err, hcloud.ErrorCodeNoSubnetAvailable, 422)
	// With a us-east subnet of its own it attaches there, never to an eu-central address.
	must[*hcloud.Action](t)(e.c.Network.AddSubnet(ctx(), n, hcloud.NetworkAddSubnetOpts{Subnet: hcloud.NetworkSubnet{
		Type: hcloud.NetworkSubnetTypeCloud, NetworkZone: hcloud.NetworkZoneUSEast, IPRange: mustNet(t, "10.5.2.0/24")}}))
	_, _, err = e.c.Server.AttachToNetwork(ctx(), us, hcloud.ServerAttachToNetworkOpts{Network: n, IP: net.ParseIP("10.5.1.60")})
	wantErr(t, err, hcloud.ErrorCodeInvalidInput, 422)
	waitAct(t, e)(e.c.Server.AttachToNetwork(ctx(), us, hcloud.ServerAttachToNetworkOpts{Network: n}))
	got := must[*hcloud.Server](t)(e.c.Server.GetByID(ctx(), us.ID))
	if len(got.PrivateNet) != 1 || !mustNet(t, "10.5.2.0/24").Contains(got.PrivateNet[0].IP) {
		t.Fatalf("us-east server's private net: %+v", got.PrivateNet)
	}
	hel := must[*hcloud.Server](t)(e.c.Server.GetByName(ctx(), "eu-hel1"))
	_, _, err = e.c.Server.ChangeAliasIPs(ctx(), hel, hcloud.ServerChangeAliasIPsOpts{Network: n, AliasIPs: []net.IP{net.ParseIP("10.5.2.70")}})
	wantErr(t, err, hcloud.ErrorCodeIPNotAvailable, 422)
}

// Every named kind refuses an empty name on update, as on create (the update is one generic handler).
func TestEmptyNameRefused(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	key := must[*hcloud.SSHKey](t)(e.c.SSHKey.Create(ctx(), hcloud.SSHKeyCreateOpts{Name: "k", PublicKey: newPublicKey(t)}))
	n := must[*hcloud.Network](t)(e.c.Network.Create(ctx(), hcloud.NetworkCreateOpts{Name: "n", IPRange: mustNet(t, "10.1.0.0/16")}))
	pg, _, _ := e.c.PlacementGroup.Create(ctx(), hcloud.PlacementGroupCreateOpts{Name: "pg", Type: hcloud.PlacementGroupTypeSpread})
	fw, _, _ := e.c.Firewall.Create(ctx(), hcloud.FirewallCreateOpts{Name: "fw"})
	sv := createServer(t, e, "sv", nil)
	for _, path := range []string{fmt.Sprintf("/ssh_keys/%d", key.ID), fmt.Sprintf("/networks/%d", n.ID),
		fmt.Sprintf("/placement_groups/%d", pg.PlacementGroup.ID), fmt.Sprintf("/firewalls/%d", fw.Firewall.ID), fmt.Sprintf("/servers/%d", sv.ID)} {
		for _, name := range []string{`""`, `" "`} {
			status, b := e.raw(t, "PUT", path, `{"name": `+name+`}`)
			if status != 422 || b["error"].(map[string]any)["code"] != "invalid_input" {
				t.Errorf("PUT %s name %s: want 422 invalid_input, got %d %v", path, name, status, b["error"])
			}
		}
		if status, _ := e.raw(t, "PUT", path, `{"labels": {"a": "b"}}`); status != 200 {
			t.Errorf("PUT %s labels: %d", path, status)
		}
	}
}

// When the public range is used up, a server create is refused as the docs say for an unavailable resource.
func TestPublicRangeExhausted(t *testing.T) {
	e := newEnv(t, apiOnlyHosts{}, "198.18.99")
	for i := 11; i <= 254; i++ {
		if status, b := e.raw(t, "POST", "/servers", fmt.Sprintf(`{"name": "s%d", "server_type": "cpx11", "image": "debian-12"}`, i)); status != 201 {
			t.Fatalf("server %d: %d %v", i, status, b["error"])
		}
	}
	_, _, err := e.c.Server.Create(ctx(), hcloud.ServerCreateOpts{Name: "one-too-many", ServerType: &hcloud.ServerType{Name: "cpx11"}, Image: &hcloud.Image{Name: "debian-12"}})
	wantErr(t, err, hcloud.ErrorCodeResourceUnavailable, 412)
	// Without a public IPv4 it still fits.
	createServer(t, e, "private-only", func(o *hcloud.ServerCreateOpts) {
		o.PublicNet = &hcloud.ServerCreatePublicNet{EnableIPv4: false, EnableIPv6: true}
	})
}

type slowHosts struct {
	apiOnlyHosts
	gate chan struct{}
}

func (h *slowHosts) Create(ctx context.Context, s HostSpec) error { <-h.gate; return nil }

type failingHosts struct{ apiOnlyHosts }

func (failingHosts) Create(context.Context, HostSpec) error { return errors.New("no disk") }
