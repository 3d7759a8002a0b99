package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/altimeter/altimeter/host/agent"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/internal/sysmon"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func run(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "altimeter",
		Short:         "Altimeter meters clouds and the machines under them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	var code int
	root.AddCommand(agentCmd(stderr), validateCmd(stdout, stderr, &code), versionCmd(stdout), reloadCmd(stdout), stopCmd(stdout))
	root.AddCommand(apiCommands(stdout, stderr)...)
	root.SetArgs(longFlags(args, longFlagNames(root, map[string]bool{"help": true})))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "altimeter:", err)
		return 1
	}
	return code
}

func newLogger(w io.Writer, level string, json bool) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name: "altimeter", Output: w, Level: hclog.LevelFromString(level), JSONFormat: json,
	})
}

func agentCmd(stderr io.Writer) *cobra.Command {
	var (
		files    []string
		level    string
		jsonLogs bool
		apiAddr  string
	)
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent: plugins, pipelines and the API",
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Returns only when not re-executed (package sysmon).
			rerr := sysmon.Reexec()
			if level == "" {
				level = levelFromConfig(files)
			}
			log := newLogger(stderr, level, jsonLogs)
			if rerr != nil {
				log.Warn("running with the runtime's default sysmon", "error", rerr)
			}
			agentGC()
			err := agent.Run(cmd.Context(), agent.Options{ConfigFiles: files, Logger: log, APIAddress: apiAddr, Version: version})
			if errors.Is(err, agent.ErrInvalidConfig) {
				return fmt.Errorf("%w (run `altimeter validate %s` for details)", err, files[0])
			}
			return err
		},
	}
	c.Flags().StringSliceVar(&files, "config", []string{"pipelines.hcl"}, "pipeline files (repeat or comma-separate to merge)")
	c.Flags().StringVar(&level, "log-level", "", "trace|debug|info|warn|error (default: agent.log_level)")
	c.Flags().BoolVar(&jsonLogs, "log-json", false, "log as JSON lines")
	c.Flags().StringVar(&apiAddr, "api-address", "", "override agent.api.address")
	return c
}

// agentGOGC is the agent's garbage collection target unless GOGC is set in
// its environment. At the runtime's default of 100 the collector was about
// an eighth of the agent's CPU on the notification path (RabbitMQ -> oslo
// listener -> store, perf); GOGC=400 gave 0.93x the agent's CPU per
// notification at 1.4x its peak RSS (bench/pipeline -mode notify, medians
// of 3 on a loaded machine). 200 takes part of the gain for less memory.
const agentGOGC = 200

// agentGC sets the agent's GC target (agentGOGC) when GOGC is not set.
func agentGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(agentGOGC)
	}
}

// levelFromConfig reads agent.log_level without failing: a broken config is
// reported by the agent itself.
func levelFromConfig(files []string) string {
	cfg, diags := config.Load(files...)
	if diags.HasErrors() || cfg.Agent.LogLevel == "" {
		return config.DefaultLogLevel
	}
	return cfg.Agent.LogLevel
}

func validateCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	var pluginDir string
	c := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check pipeline files; prints FILE:LINE:COL diagnostics and exits non-zero on error",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			log := newLogger(stderr, "error", false)
			_, diags := agent.Validate(cmd.Context(), files, pluginDir, log)
			fmt.Fprint(stderr, config.Format(diags))
			if diags.HasErrors() {
				*code = 1
				return nil
			}
			fmt.Fprintf(stdout, "%s: ok\n", joinFiles(files))
			return nil
		},
	}
	c.Flags().StringVar(&pluginDir, "plugin-dir", "", "plugin directory (default: agent.plugin_dir)")
	return c
}

func joinFiles(files []string) string {
	return strings.Join(files, ", ")
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, "altimeter", version) },
	}
}

// longFlags accepts HashiCorp-style single-dash long flags (-config FILE) by
// rewriting "-name" and "-name=value" to the double-dash form cobra parses,
// when name is a long flag of some command (known). Anything else is left
// alone, so one-letter shorthands keep all their forms (-q x, -q=x, -ojson).
func longFlags(args []string, known map[string]bool) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			if name, _, _ := strings.Cut(a[1:], "="); known[name] {
				a = "-" + a
			}
		}
		out[i] = a
	}
	return out
}

// longFlagNames collects the long flag names of c and its subcommands.
func longFlagNames(c *cobra.Command, into map[string]bool) map[string]bool {
	add := func(f *pflag.Flag) {
		if len(f.Name) > 1 {
			into[f.Name] = true
		}
	}
	c.Flags().VisitAll(add)
	c.PersistentFlags().VisitAll(add)
	for _, sub := range c.Commands() {
		longFlagNames(sub, into)
	}
	return into
}
