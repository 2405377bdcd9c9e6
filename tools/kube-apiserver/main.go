// kube-apiserver v1.37.2, built from the k8s.io/kubernetes module: the main of its cmd/kube-apiserver
// (a package main cannot be imported, and `go install` refuses that module's replace directives). The
// end-to-end test starts it with only the etcd stack's outputs.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
