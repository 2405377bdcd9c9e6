package main

// What Hetzner offers and the stand-in serves read-only: locations, datacenters, server types, images.
//
// Image mapping: every image below is a name the API accepts and reports back; whatever the name, the local
// host boots the one test-host root file system (Debian 12 "bookworm", built by scripts/lab/testhosts.sh).
// Programs that need "an Ubuntu-like systemd host with apt, curl and sshd" run unchanged; nothing here
// pretends the kernel or userland is Ubuntu's.

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

var locations = []schema.Location{
	{ID: 1, Name: "fsn1", Description: "Falkenstein DC Park 1", Country: "DE", City: "Falkenstein", Latitude: 50.47612, Longitude: 12.370071, NetworkZone: "eu-central"},
	{ID: 2, Name: "nbg1", Description: "Nuremberg DC Park 1", Country: "DE", City: "Nuremberg", Latitude: 49.452102, Longitude: 11.076665, NetworkZone: "eu-central"},
	{ID: 3, Name: "hel1", Description: "Helsinki DC Park 1", Country: "FI", City: "Helsinki", Latitude: 60.169855, Longitude: 24.938379, NetworkZone: "eu-central"},
	{ID: 4, Name: "ash", Description: "Ashburn, VA", Country: "US", City: "Ashburn, VA", Latitude: 39.045821, Longitude: -77.487073, NetworkZone: "us-east"},
	{ID: 5, Name: "hil", Description: "Hillsboro, OR", Country: "US", City: "Hillsboro, OR", Latitude: 45.54222, Longitude: -122.951924, NetworkZone: "us-west"},
	{ID: 6, Name: "sin", Description: "Singapore", Country: "SG", City: "Singapore", Latitude: 1.283333, Longitude: 103.833333, NetworkZone: "ap-southeast"},
}

var networkZones = map[string]bool{"eu-central": true, "us-east": true, "us-west": true, "ap-southeast": true}

var datacenterNames = map[string]struct {
	id   int64
	name string
}{
	"fsn1": {4, "fsn1-dc14"}, "nbg1": {2, "nbg1-dc3"}, "hel1": {3, "hel1-dc2"},
	"ash": {5, "ash-dc1"}, "hil": {6, "hil-dc1"}, "sin": {7, "sin-dc1"},
}

func datacenters() []schema.Datacenter {
	var out []schema.Datacenter
	for _, l := range locations {
		var ids []int64
		for _, t := range serverTypes {
			if offeredIn(t, l.Name) {
				ids = append(ids, t.ID)
			}
		}
		dc := datacenterNames[l.Name]
		out = append(out, schema.Datacenter{
			ID: dc.id, Name: dc.name, Description: l.City + " " + dc.name[len(l.Name)+1:], Location: l,
			ServerTypes: &schema.DatacenterServerTypes{Supported: ids, Available: ids, AvailableForMigration: ids},
		})
	}
	return out
}

// serverType is offered in the locations of the given network zones (none given: every location), as the
// API lists them in its `locations`: the AMD CPX types everywhere, the Intel CX types in eu-central only.
func serverType(id int64, name, desc string, cores int, mem float32, disk int, zones ...string) schema.ServerType {
	t := schema.ServerType{ID: id, Name: name, Description: desc, Category: "shared_vcpu", Cores: cores, Memory: mem, Disk: disk,
		StorageType: "local", CPUType: "shared", Architecture: "x86", IncludedTraffic: 21990232555520,
		Prices: []schema.PricingServerTypePrice{}, Locations: []schema.ServerTypeLocation{}}
	for _, l := range locations {
		if len(zones) == 0 || slices.Contains(zones, l.NetworkZone) {
			t.Locations = append(t.Locations, schema.ServerTypeLocation{ID: l.ID, Name: l.Name, Recommended: true, Available: true})
		}
	}
	return t
}

var serverTypes = []schema.ServerType{
	serverType(22, "cpx11", "CPX 11", 2, 2, 40),
	serverType(23, "cpx21", "CPX 21", 3, 4, 80),
	serverType(24, "cpx31", "CPX 31", 4, 8, 160),
	serverType(104, "cx22", "CX22", 2, 4, 40, "eu-central"),
	serverType(105, "cx32", "CX32", 4, 8, 80, "eu-central"),
}

func offeredIn(t schema.ServerType, location string) bool {
	return slices.ContainsFunc(t.Locations, func(l schema.ServerTypeLocation) bool { return l.Name == location })
}

func image(id int64, name, desc, flavor, version string) schema.Image {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return schema.Image{ID: id, Status: "available", Type: "system", Name: &name, Description: desc, DiskSize: 5,
		Created: &created, OSFlavor: flavor, OSVersion: &version, Architecture: "x86", RapidDeploy: true,
		Labels: map[string]string{}}
}

var images = []schema.Image{
	image(67794396, "ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04"),
	image(161547269, "ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04"),
	image(114690387, "debian-12", "Debian 12", "debian", "12"),
}

// byNameOrID matches what the API accepts for a location or datacenter: its name, or its ID as a string
// (hcloud CLI v1.67 sends `--location fsn1` as "location": "1").
func byNameOrID(v string, id int64, name string) bool {
	n, err := strconv.ParseInt(v, 10, 64)
	return v == name || (err == nil && n == id)
}

func findLocation(v string) (schema.Location, bool) {
	for _, l := range locations {
		if byNameOrID(v, l.ID, l.Name) {
			return l, true
		}
	}
	return schema.Location{}, false
}

func findDatacenter(v string) (schema.Datacenter, bool) {
	for _, dc := range datacenters() {
		if byNameOrID(v, dc.ID, dc.Name) {
			return dc, true
		}
	}
	return schema.Datacenter{}, false
}

// findServerType and findImage take schema.IDOrName, which already reads a number or a numeric string as an ID.
func findServerType(v schema.IDOrName) (schema.ServerType, bool) {
	return findIn(serverTypes, v, func(t schema.ServerType) (int64, string) { return t.ID, t.Name })
}

func findImage(v schema.IDOrName) (schema.Image, bool) {
	return findIn(images, v, func(i schema.Image) (int64, string) { return i.ID, *i.Name })
}

func findIn[T any](items []T, v schema.IDOrName, key func(T) (int64, string)) (T, bool) {
	for _, it := range items {
		if id, name := key(it); (v.ID != 0 && id == v.ID) || (v.Name != "" && name == v.Name) {
			return it, true
		}
	}
	var zero T
	return zero, false
}

// readOnly registers a catalog kind: GET only, no labels, no actions.
func readOnly[T any](res, one, what string, items func() []T, key func(x *T) (int64, *string)) {
	register(kind[T]{res: res, one: one, what: what, noActions: true,
		all: func(*Store) map[int64]*T {
			return catalog(items(), func(x T) int64 { id, _ := key(&x); return id })
		},
		meta: func(x *T) meta { id, name := key(x); return meta{id: id, name: name} }})
}

func init() {
	readOnly("locations", "location", "location", func() []schema.Location { return locations },
		func(l *schema.Location) (int64, *string) { return l.ID, &l.Name })
	readOnly("datacenters", "datacenter", "datacenter", datacenters,
		func(d *schema.Datacenter) (int64, *string) { return d.ID, &d.Name })
	readOnly("server_types", "server_type", "server type", func() []schema.ServerType { return serverTypes },
		func(t *schema.ServerType) (int64, *string) { return t.ID, &t.Name })
	// Images have labels and actions.
	register(kind[schema.Image]{res: "images", one: "image", what: "image", byCreated: true,
		all: func(*Store) map[int64]*schema.Image {
			return catalog(images, func(i schema.Image) int64 { return i.ID })
		},
		meta: func(i *schema.Image) meta { return meta{id: i.ID, name: i.Name, labels: &i.Labels, created: i.Created} },
		filter: func(q url.Values, i *schema.Image) bool {
			return inQuery(q, "type", i.Type) && inQuery(q, "architecture", i.Architecture) && inQuery(q, "status", i.Status) &&
				q.Get("bound_to") == ""
		}})
}

// datacenterOf is the one datacenter the stand-in has in a location.
func datacenterOf(location string) schema.Datacenter {
	for _, dc := range datacenters() {
		if dc.Location.Name == location {
			return dc
		}
	}
	return schema.Datacenter{}
}
