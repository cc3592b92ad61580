// Command kubectl is the upstream kubectl, built from the same k8s.io/kubernetes release as the test
// kube-apiserver. The preflight builds it only where no kubectl is installed (Debian 12's own is 1.20,
// far outside the version skew kubectl supports against a v1.33 API server).
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
