package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/schema"
)

// DescribeFunc reports what the plugin of kind and name is, typically by
// starting its binary and calling Describe.
type DescribeFunc func(kind base.Kind, name string) (*base.Info, error)

// Resolve describes every plugin (once per kind and name), decodes each
// plugin body against the schema its plugin reports, fills Info, Decoded and
// Config, and runs the checks that need plugin knowledge: meter patterns
// against the declared pollsters' meters and discovery methods against
// theirs. Call it on a Config that Load returned without errors, or (to
// report every problem at once, as validate does) with errors but not
// Unparsed.
func (c *Config) Resolve(describe DescribeFunc) hcl.Diagnostics {
	type result struct {
		info *base.Info
		err  error
	}
	cache := map[string]result{}
	var diags hcl.Diagnostics
	for _, p := range c.AllPlugins() {
		key := p.Kind.String() + "." + p.Name
		r, ok := cache[key]
		if !ok {
			r.info, r.err = describe(p.Kind, p.Name)
			if r.err == nil && r.info == nil {
				r.err = fmt.Errorf("%s %q described itself as nothing", p.Kind, p.Name)
			}
			cache[key] = r
		}
		p.Info, p.Decoded, p.Config = nil, nil, nil
		if r.err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  describeSummary(r.err),
				Detail:   r.err.Error(),
				Subject:  p.NameRange.Ptr(),
			})
			continue
		}
		if r.info.Kind != p.Kind {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Plugin kind mismatch",
				Detail:   fmt.Sprintf("Plugin %q is a %s, but a %s block needs a %s.", p.Name, r.info.Kind, p.Kind.BlockType(), p.Kind),
				Subject:  p.NameRange.Ptr(),
			})
			continue
		}
		if d := hostOwnedInSchema(p, r.info.Schema); d != nil {
			diags = append(diags, d)
			continue
		}
		p.Info = r.info
		dec, dd := schema.Decode(p.Body, r.info.Schema)
		diags = append(diags, dd...)
		p.Decoded = dec
		if dd.HasErrors() {
			continue
		}
		raw, err := schema.Marshal(dec.Value, r.info.Schema)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot encode plugin configuration",
				Detail:   err.Error(),
				Subject:  p.DefRange.Ptr(),
			})
			continue
		}
		p.Config = raw
	}
	diags = append(diags, c.checkMeters()...)
	diags = append(diags, c.checkDiscovery()...)
	return diags
}

// describeSummary is the summary of a diagnostic about a plugin that could
// not be described: "Plugin not found", or what the error says of itself
// through a Summary method (the plugin manager's refusals do).
func describeSummary(err error) string {
	var s interface{ Summary() string }
	if errors.As(err, &s) {
		return s.Summary()
	}
	return "Plugin not found"
}

// hostOwnedInSchema rejects a schema that claims an attribute the host
// removes from the block before decoding.
func hostOwnedInSchema(p *Plugin, s *schema.Schema) *hcl.Diagnostic {
	if s == nil {
		return nil
	}
	for _, h := range base.HostAttributes(p.Kind) {
		for _, a := range s.Attributes {
			if a.Name == h {
				return &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid plugin schema",
					Detail:   fmt.Sprintf("Plugin %q declares config attribute %q, which the host owns in %s blocks.", p.Name, h, p.Kind.BlockType()),
					Subject:  p.NameRange.Ptr(),
				}
			}
		}
	}
	for _, h := range base.HostBlocks(p.Kind) {
		for _, b := range s.Blocks {
			if b.TypeName == h {
				return &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid plugin schema",
					Detail:   fmt.Sprintf("Plugin %q declares config block %q, which the host owns in %s blocks.", p.Name, h, p.Kind.BlockType()),
					Subject:  p.NameRange.Ptr(),
				}
			}
		}
	}
	return nil
}

// checkMeters requires every inclusion pattern of a polling block to match a
// meter of a declared pollster, and every polling block to select at least
// one. It is skipped when a pollster could not be described, or provides
// meters its configuration defines (DynamicMeters): that pollster might
// provide the meters.
func (c *Config) checkMeters() hcl.Diagnostics {
	for _, p := range c.Pollsters {
		if p.Info == nil || p.Info.DynamicMeters {
			return nil
		}
	}
	var all []string
	for _, p := range c.Pollsters {
		for _, m := range p.Info.Meters {
			all = append(all, m.Name)
		}
	}
	var diags hcl.Diagnostics
	for _, pl := range c.Polling {
		if pl.Meters == nil {
			continue
		}
		reported := false
		for _, ref := range pl.MeterPatterns {
			if ref.Name == "*" || strings.HasPrefix(ref.Name, "!") {
				continue
			}
			if anyMatch(all, func(m string) bool { return MatchGlob(ref.Name, m) }) {
				continue
			}
			reported = true
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No pollster provides meter",
				Detail:   fmt.Sprintf("No meter of a declared pollster matches %q.%s", ref.Name, c.pollsterBlocks()),
				Subject:  ref.Range.Ptr(),
			})
		}
		if reported || anyMatch(all, pl.Meters.Match) {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Polling block selects no meter",
			Detail:   fmt.Sprintf("Polling %q matches none of the meters its pollsters provide.%s", pl.Name, c.pollsterBlocks()),
			Subject:  pl.MetersRange.Ptr(),
		})
	}
	return diags
}

// checkDiscovery requires each discovery method to be offered by the named
// pollster.
func (c *Config) checkDiscovery() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, pl := range c.Polling {
		for _, d := range pl.Discovery {
			name, method, _ := strings.Cut(d.Name, ".")
			p := c.Pollster(name)
			if p == nil || p.Info == nil {
				continue // undefined pollster (Load) or not described
			}
			var offered []string
			found := false
			for _, m := range p.Info.Discovery {
				offered = append(offered, m.Name)
				found = found || m.Name == method
			}
			if found {
				continue
			}
			detail := fmt.Sprintf("Pollster %q offers no discovery method %q", name, method)
			if len(offered) == 0 {
				detail += "; it offers none."
			} else {
				sort.Strings(offered)
				detail += "; it offers: " + strings.Join(offered, ", ") + "."
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown discovery method",
				Detail:   detail,
				Subject:  d.Range.Ptr(),
			})
		}
	}
	return diags
}

// pollsterBlocks lists the declared pollster blocks with what they provide,
// as a Detail suffix.
func (c *Config) pollsterBlocks() string {
	if len(c.Pollsters) == 0 {
		return " No pollster blocks are declared."
	}
	parts := make([]string, 0, len(c.Pollsters))
	for _, p := range c.Pollsters {
		var meters []string
		if p.Info != nil {
			for _, m := range p.Info.Meters {
				meters = append(meters, m.Name)
			}
		}
		parts = append(parts, fmt.Sprintf("%q at %s (meters: %s)", p.Name, p.DefRange, strings.Join(meters, ", ")))
	}
	return " Declared pollster blocks: " + strings.Join(parts, "; ") + "."
}

func anyMatch(names []string, match func(string) bool) bool {
	for _, n := range names {
		if match(n) {
			return true
		}
	}
	return false
}

// PluginDiagnostics turns the config errors p's constructor returned at
// Configure time into diagnostics at the ranges of the attributes they name.
func (c *Config) PluginDiagnostics(p *Plugin, errs []*pb.ConfigError) hcl.Diagnostics {
	if p.Decoded != nil {
		return p.Decoded.Diagnostics(errs)
	}
	dec := &schema.Decoded{Body: p.DefRange}
	return dec.Diagnostics(errs)
}
