// Command kube-apiserver is the upstream Kubernetes API server, built from the k8s.io/kubernetes
// module for Gatehouse's integration tests (no binary downloads are possible in CI).
//
//	kube-apiserver [flags]              the API server itself (every upstream flag)
//	kube-apiserver gatehouse-certs DIR  writes a throw-away CA, a serving certificate for the
//	                                    loopback address and a service-account key pair into DIR
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "gatehouse-certs" {
		if err := writeCerts(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse-certs:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
