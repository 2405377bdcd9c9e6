package main

// The stand-in's state: what a Hetzner Cloud project holds, kept in memory under one lock and written to a
// JSON file after every change (so a restarted stand-in still knows the servers it booted).

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

type serverRec struct {
	Server           schema.Server `json:"server"`
	PlacementGroupID int64         `json:"placement_group_id,omitempty"`
	AuthorizedKeys   []string      `json:"authorized_keys"`
	UserData         string        `json:"user_data,omitempty"`
	// Running actions that lock the server (423 locked for other actions meanwhile).
	Busy int `json:"-"`
}

type storeData struct {
	IDs             map[string]int64                 `json:"ids"`
	SSHKeys         map[int64]*schema.SSHKey         `json:"ssh_keys"`
	Networks        map[int64]*schema.Network        `json:"networks"`
	PlacementGroups map[int64]*schema.PlacementGroup `json:"placement_groups"`
	Firewalls       map[int64]*schema.Firewall       `json:"firewalls"`
	Servers         map[int64]*serverRec             `json:"servers"`
	Actions         map[int64]*schema.Action         `json:"actions"`
}

// Store holds the project. Every method that touches d expects mu held.
type Store struct {
	mu   sync.Mutex
	d    storeData
	path string // "" = not persisted

	hosts        Hosts
	publicPrefix string // first three octets of the public IPv4 range, e.g. "198.18.6"
	log          *log.Logger
	now          func() time.Time
	// In-flight host operations, so Close can wait for them.
	work sync.WaitGroup
}

// Where the ID counters of each kind start: real IDs are large; distinct ranges help reading logs.
var idBase = map[string]int64{
	"ssh_keys": 1_000_000, "networks": 2_000_000, "placement_groups": 3_000_000, "firewalls": 4_000_000,
	"servers": 5_000_000, "primary_ips": 6_000_000, "actions": 9_000_000,
}

func newStore(path string, hosts Hosts, publicPrefix string, logger *log.Logger) (*Store, error) {
	s := &Store{path: path, hosts: hosts, publicPrefix: publicPrefix, log: logger, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }}
	s.d = storeData{
		IDs: map[string]int64{}, SSHKeys: map[int64]*schema.SSHKey{}, Networks: map[int64]*schema.Network{},
		PlacementGroups: map[int64]*schema.PlacementGroup{}, Firewalls: map[int64]*schema.Firewall{},
		Servers: map[int64]*serverRec{}, Actions: map[int64]*schema.Action{},
	}
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s.d); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	// Actions that were running when the last stand-in stopped never finish now.
	for _, a := range s.d.Actions {
		if a.Status == "running" {
			s.finishAction(a, &schema.ActionError{Code: "server_error", Message: "the stand-in was restarted while this action ran"})
		}
	}
	for _, rec := range s.d.Servers {
		rec.Server.Locked = false
		switch rec.Server.Status {
		case "initializing", "starting", "stopping", "deleting":
			rec.Server.Status = "unknown"
		}
	}
	return s, nil
}

// save writes the state atomically. Called with mu held after each change.
func (s *Store) save() {
	if s.path == "" {
		return
	}
	b, err := json.MarshalIndent(&s.d, "", " ")
	if err == nil {
		tmp := s.path + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, s.path)
		}
	}
	if err != nil {
		s.log.Printf("warning: could not save state: %v", err)
	}
}

func (s *Store) nextID(kind string) int64 {
	n := s.d.IDs[kind]
	if n == 0 {
		n = idBase[kind]
	}
	n++
	s.d.IDs[kind] = n
	return n
}

// newAction records an action on the given resources; a running one is finished later by finishAction.
func (s *Store) newAction(command string, running bool, resources ...schema.ActionResourceReference) *schema.Action {
	a := &schema.Action{ID: s.nextID("actions"), Command: command, Status: "running", Started: s.now(), Resources: resources}
	if resources == nil {
		a.Resources = []schema.ActionResourceReference{}
	}
	s.d.Actions[a.ID] = a
	if !running {
		s.finishAction(a, nil)
	}
	return a
}

func (s *Store) finishAction(a *schema.Action, e *schema.ActionError) {
	t := s.now()
	a.Finished = &t
	a.Progress = 100
	a.Status = "success"
	if e != nil {
		a.Status = "error"
		a.Error = e
	}
}

func ref(kind string, id int64) schema.ActionResourceReference {
	return schema.ActionResourceReference{ID: id, Type: kind}
}

// async runs fn (a host operation) outside the lock, then finish under the lock; Close waits for it.
func (s *Store) async(fn func() error, finish func(err error)) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		err := fn()
		s.mu.Lock()
		defer s.mu.Unlock()
		finish(err)
		s.save()
	}()
}

func sortedIDs[T any](m map[int64]T) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Empty reports whether the project holds no resource (what `pulumi destroy` must leave).
func (s *Store) counts() map[string]int {
	return map[string]int{
		"servers": len(s.d.Servers), "networks": len(s.d.Networks), "firewalls": len(s.d.Firewalls),
		"placement_groups": len(s.d.PlacementGroups), "ssh_keys": len(s.d.SSHKeys),
	}
}
