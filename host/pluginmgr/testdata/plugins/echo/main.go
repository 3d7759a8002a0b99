// Command echo is a test publisher for package pluginmgr. Its name comes
// from its file name (altimeter-publisher-<name>), so one binary serves
// under several names. Behaviour is driven by its config; a binary named
// altimeter-publisher-dies exits during startup after writing to stderr.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

type config struct {
	// CrashAfter > 0 exits with status 2 on that publish.
	CrashAfter int `hcl:"crash_after,optional"`
	// ExitAfter exits with status 3 this long after Configure.
	ExitAfter string `hcl:"exit_after,optional"`
	// ExitOnConfigure exits with status 1 inside Configure.
	ExitOnConfigure bool `hcl:"exit_on_configure,optional"`
	// Reject returns a config error on this attribute.
	Reject string `hcl:"reject,optional"`
	// ChildPIDFile starts a child that inherits stdout and stderr (the
	// pipes to the host) and sleeps; its pid goes to this file.
	ChildPIDFile string `hcl:"child_pid_file,optional"`
}

type echo struct {
	n   atomic.Int64
	cfg config
	log hclog.Logger
}

func (e *echo) Publish(_ context.Context, b *sample.Batch) error {
	n := e.n.Add(1)
	if e.cfg.CrashAfter > 0 && n >= int64(e.cfg.CrashAfter) {
		e.log.Error("crashing as configured", "publishes", n)
		os.Exit(2)
	}
	if len(b.Samples) == 0 {
		return publisher.Reject(fmt.Errorf("empty batch"))
	}
	return nil
}

func main() {
	// altimeter-<kind>-<name>
	parts := strings.SplitN(filepath.Base(os.Args[0]), "-", 3)
	name := parts[len(parts)-1]
	if name == "dies" && os.Getenv(sdk.Handshake.MagicCookieKey) != "" {
		fmt.Fprintln(os.Stderr, "dies: cannot open /nonexistent/socket: no such file or directory")
		os.Exit(1)
	}
	publisher.Serve(publisher.Spec[config]{
		Name:        name,
		Version:     "1.2.3",
		Description: "Test publisher that accepts non-empty batches.",
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			if c.Reject != "" {
				return nil, &schema.AttributeError{Attribute: c.Reject, Summary: "Rejected by test", Detail: "the test asked for it"}
			}
			if c.ExitOnConfigure {
				log.Error("exiting in configure as configured", "code", 1)
				os.Exit(1)
			}
			if c.ExitAfter != "" {
				d, err := time.ParseDuration(c.ExitAfter)
				if err != nil {
					return nil, &schema.AttributeError{Attribute: "exit_after", Summary: "Invalid duration", Detail: err.Error()}
				}
				time.AfterFunc(d, func() {
					log.Error("exiting after delay as configured", "after", d)
					os.Exit(3)
				})
			}
			if c.ChildPIDFile != "" {
				if err := startChild(c.ChildPIDFile); err != nil {
					return nil, err
				}
			}
			return &echo{cfg: c, log: log}, nil
		},
	})
}

// startChild starts `sleep 600` holding fd 1 and 2, which go-plugin reads
// until they close, and writes its pid to path.
func startChild(path string) error {
	cmd := exec.Command("sleep", "600")
	cmd.Stdout, cmd.Stderr = os.NewFile(1, "stdout"), os.NewFile(2, "stderr")
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
