module etcd-cluster/tools/hcloud-standin

go 1.25.0

require (
	github.com/hetznercloud/hcloud-go/v2 v2.40.0
	golang.org/x/crypto v0.50.0
)

require golang.org/x/sys v0.43.0 // indirect
