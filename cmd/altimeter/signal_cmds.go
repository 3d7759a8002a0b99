package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pidfile"
)

// signalFlags find the agent to signal: its data_dir, from -data-dir or
// from the config files' agent block.
type signalFlags struct {
	files   []string
	dataDir string
}

func (f *signalFlags) register(c *cobra.Command) {
	c.Flags().StringSliceVar(&f.files, "config", []string{"pipelines.hcl"}, "the agent's pipeline files (where its data_dir is)")
	c.Flags().StringVar(&f.dataDir, "data-dir", "", "the agent's data directory (default: agent.data_dir of -config)")
}

// agentPID is the pid of the agent holding the pid file in its data_dir.
func (f *signalFlags) agentPID() (int, error) {
	dir := f.dataDir
	if dir == "" {
		cfg, diags := config.Load(f.files...)
		if diags.HasErrors() {
			return 0, fmt.Errorf("read data_dir from %v: %s", f.files, strings.TrimSpace(config.Format(diags)))
		}
		dir = cfg.Agent.DataDir
	}
	return pidfile.Running(dir)
}

func reloadCmd(stdout io.Writer) *cobra.Command {
	var f signalFlags
	c := &cobra.Command{
		Use:   "reload",
		Short: "Make the running agent reload its pipeline files (SIGHUP to the pid in data_dir/altimeter.pid)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			pid, err := f.agentPID()
			if err != nil {
				return err
			}
			if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
				return fmt.Errorf("signal agent pid %d: %w", pid, err)
			}
			fmt.Fprintf(stdout, "reload requested (pid %d); the agent logs the result\n", pid)
			return nil
		},
	}
	f.register(c)
	return c
}

func stopCmd(stdout io.Writer) *cobra.Command {
	var (
		f       signalFlags
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "stop",
		Short: "Stop the running agent (SIGTERM to the pid in data_dir/altimeter.pid) and wait until it has drained and exited",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pid, err := f.agentPID()
			if err != nil {
				return err
			}
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				return fmt.Errorf("signal agent pid %d: %w", pid, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				if _, err := f.agentPID(); errors.Is(err, pidfile.ErrNotRunning) {
					fmt.Fprintf(stdout, "stopped (pid %d)\n", pid)
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("agent pid %d still running after %s", pid, timeout)
				case <-tick.C:
				}
			}
		},
	}
	f.register(c)
	c.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the agent to exit")
	return c
}
