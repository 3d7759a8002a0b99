package config

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// finish fills defaults and runs the cross-block checks.
func (l *loader) finish() (*Config, hcl.Diagnostics) {
	c := l.cfg
	c.Files = l.parser.Files()
	a := &c.Agent
	if a.DataDir == "" {
		a.DataDir = DefaultDataDir
	}
	if a.PluginDir == "" {
		a.PluginDir = DefaultPluginDir
	}
	if a.LogLevel == "" {
		a.LogLevel = DefaultLogLevel
	}
	if a.APIAddress == "" {
		a.APIAddress = DefaultAPIAddress
	}
	if a.APINoAuth && !IsLoopback(a.APIAddress) {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "API without auth on a non-loopback address",
			Detail:   fmt.Sprintf("auth = false serves every project's data to anyone who can reach %s; it is allowed on a loopback address (127.0.0.1, ::1) only.", a.APIAddress),
			Subject:  a.APIAuthRange.Ptr(),
		})
	}
	if l.syntax {
		c.Unparsed = true
		return c, l.diags
	}

	sinks := map[string]*Sink{}
	for _, s := range c.Sinks {
		sinks[s.Name] = s
	}
	used := map[string]bool{}
	checkSinks := func(refs []Ref) {
		for _, r := range refs {
			if _, ok := sinks[r.Name]; ok {
				used[r.Name] = true
				continue
			}
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reference to undefined sink",
				Detail:   fmt.Sprintf("No sink %q is declared.%s", r.Name, declared("sink", sinkNames(c))),
				Subject:  r.Range.Ptr(),
			})
		}
	}
	for _, p := range c.Polling {
		checkSinks(p.Sinks)
		for _, d := range p.Discovery {
			name, _, ok := strings.Cut(d.Name, ".")
			if !ok || name == "" {
				continue // reported while decoding
			}
			if c.Pollster(name) == nil {
				l.diags = append(l.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undefined pollster",
					Detail:   fmt.Sprintf("Discovery %q names pollster %q, but no pollster %q block is declared.%s", d.Name, name, name, declared("pollster", pollsterNames(c))),
					Subject:  d.Range.Ptr(),
				})
			}
		}
	}
	for _, li := range c.Listeners {
		checkSinks(li.Sinks)
	}
	for _, s := range c.Sinks {
		if len(s.Publishers) == 0 {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing publish block",
				Detail:   fmt.Sprintf("Sink %q needs at least one publish block.", s.Name),
				Subject:  s.DefRange.Ptr(),
			})
		}
		if !used[s.Name] {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Unused sink",
				Detail:   fmt.Sprintf("No polling or listener block sends to sink %q.", s.Name),
				Subject:  s.DefRange.Ptr(),
			})
		}
	}
	return c, l.diags
}

func sinkNames(c *Config) []string {
	out := make([]string, 0, len(c.Sinks))
	for _, s := range c.Sinks {
		out = append(out, s.Name)
	}
	return out
}

func pollsterNames(c *Config) []string {
	out := make([]string, 0, len(c.Pollsters))
	for _, p := range c.Pollsters {
		out = append(out, p.Name)
	}
	return out
}

// declared is a " Declared <what>s: a, b." suffix for a Detail.
func declared(what string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf(" No %s blocks are declared.", what)
	}
	names = append([]string(nil), names...)
	sort.Strings(names)
	return fmt.Sprintf(" Declared %ss: %s.", what, strings.Join(names, ", "))
}

// IsLoopback reports whether a host:port address binds a loopback
// interface only ("localhost" counts; an empty host, which binds every
// interface, does not).
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
