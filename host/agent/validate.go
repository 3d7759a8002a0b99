package agent

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/sdk/base"
)

// Validate checks config files as the agent would before starting anything:
// syntax and the host's schema, each plugin block against the schema its
// plugin describes, and each plugin's own checks (its constructor runs in a
// short-lived process). pluginDir overrides the config's agent.plugin_dir
// when set. It returns the parsed files, for rendering.
func Validate(ctx context.Context, files []string, pluginDir string, log hclog.Logger) (map[string]*hcl.File, hcl.Diagnostics) {
	// Every stage runs that can: a file that does not parse stops here,
	// but other errors do not keep the plugins from being resolved and
	// their own checks from running, so one run reports every problem.
	cfg, diags := config.Load(files...)
	if cfg.Unparsed {
		return cfg.Files, diags
	}
	if pluginDir == "" {
		pluginDir = cfg.Agent.PluginDir
	}
	abs, err := filepath.Abs(pluginDir)
	if err != nil {
		return cfg.Files, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad plugin directory", Detail: err.Error()})
	}
	m := pluginmgr.New(pluginmgr.Options{Dir: abs, Logger: log})
	defer m.Shutdown(context.WithoutCancel(ctx))
	m.SetPolicy(pluginPolicy(cfg))
	_, errs := m.Scan(ctx)
	for _, err := range errs {
		log.Warn("ignoring plugin binary", "error", err)
	}
	diags = append(diags, cfg.Resolve(describeBuiltin(func(k base.Kind, name string) (*base.Info, error) {
		return m.Describe(ctx, k, name)
	}))...)
	for _, p := range cfg.AllPlugins() {
		if isBuiltin(p) || p.Config == nil {
			continue // built in, or its block did not resolve (reported)
		}
		inst, err := m.Launch(ctx, "validate."+p.ID, p.Kind, p.Name, p.Config)
		var ce *pluginmgr.ConfigError
		switch {
		case errors.As(err, &ce):
			diags = append(diags, cfg.PluginDiagnostics(p, ce.Errors)...)
		case err != nil:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Plugin failed to start", Detail: err.Error(), Subject: p.NameRange.Ptr(),
			})
		default:
			_ = inst.Stop(ctx)
		}
	}
	return cfg.Files, diags
}
