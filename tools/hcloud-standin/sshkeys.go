package main

// SSH keys: CRUD. The fingerprint is the MD5 one the API reports; name and key are unique (409).

import (
	"crypto/md5"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"golang.org/x/crypto/ssh"
)

var sshKeys = kind[schema.SSHKey]{res: "ssh_keys", one: "ssh_key", what: "SSH key", byCreated: true,
	all: func(s *Store) map[int64]*schema.SSHKey { return s.d.SSHKeys },
	meta: func(k *schema.SSHKey) meta {
		return meta{id: k.ID, name: &k.Name, labels: &k.Labels, created: &k.Created}
	},
	filter: func(q url.Values, k *schema.SSHKey) bool {
		return q.Get("fingerprint") == "" || q.Get("fingerprint") == k.Fingerprint
	},
}

// create is set here: it uses sshKeys itself (no initialization cycle).
func init() {
	sshKeys.create = (*API).createSSHKey
	register(sshKeys)
}

func fingerprint(pub ssh.PublicKey) string {
	sum := md5.Sum(pub.Marshal())
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":")
}

func (a *API) createSSHKey(r *http.Request) (int, any, *apiError) {
	var req schema.SSHKeyCreateRequest
	if e := decode(r, &req); e != nil {
		return fail(e)
	}
	if e := sshKeys.validName(req.Name); e != nil {
		return fail(e)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
	if err != nil {
		return fail(errInvalid("public_key", "invalid public key"))
	}
	labels := copyLabels(req.Labels)
	s := a.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := sshKeys.checkNew(s, req.Name, labels); e != nil {
		return fail(e)
	}
	fp := fingerprint(pub)
	for _, k := range s.d.SSHKeys {
		if k.Fingerprint == fp {
			return fail(errUniqueness("public_key"))
		}
	}
	k := &schema.SSHKey{ID: s.nextID("ssh_keys"), Name: req.Name, Fingerprint: fp, PublicKey: req.PublicKey,
		Labels: labels, Created: s.now()}
	s.d.SSHKeys[k.ID] = k
	s.save()
	return http.StatusCreated, map[string]any{"ssh_key": k}, nil
}
