// Command kube-apiserver is the upstream Kubernetes API server, built from the k8s.io/kubernetes
// module for Gatehouse's integration tests (no binary downloads are possible in CI).
//
//	kube-apiserver [flags]                   the API server itself (every upstream flag)
//	kube-apiserver gatehouse-certs DIR       writes a throw-away CA, a serving certificate for the
//	                                         loopback address and a service-account key pair into DIR
//	kube-apiserver gatehouse-run -- CMD ...  runs CMD (etcd), forwarding SIGTERM/SIGINT to it
//
// With GATEHOUSE_PARENT_PID set, the process (and CMD under gatehouse-run) exits when that
// parent goes away, so a test runner killed with SIGKILL leaves nothing running.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

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
	if len(os.Args) >= 4 && os.Args[1] == "gatehouse-run" && os.Args[2] == "--" {
		os.Exit(runChild(os.Args[3], os.Args[4:]))
	}
	watchParent(func() { os.Exit(1) })
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}

// watchParent calls onOrphaned once GATEHOUSE_PARENT_PID is no longer our parent.
func watchParent(onOrphaned func()) {
	pid, err := strconv.Atoi(os.Getenv("GATEHOUSE_PARENT_PID"))
	if err != nil || pid <= 1 {
		return
	}
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != pid {
				onOrphaned()
				return
			}
		}
	}()
}

func runChild(name string, args []string) int {
	// The child gets SIGKILL when the thread that started it ends; locking keeps that thread for
	// the life of this process, so "this process died, even by SIGKILL" kills the child too.
	runtime.LockOSThread()
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-run:", err)
		return 127
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s)
		}
	}()
	watchParent(func() {
		_ = cmd.Process.Kill()
	})
	err := cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}
