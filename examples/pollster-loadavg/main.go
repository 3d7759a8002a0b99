// Command altimeter-pollster-loadavg is an example third-party Altimeter
// pollster: the 1, 5 and 15 minute load averages of /proc/loadavg, in a module
// of its own that depends on the Altimeter SDK only.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// version is set at build time: go build -ldflags "-X main.version=1.0.0".
var version = "0.1.0"

// config is the plugin-owned part of the pollster block; hcl tags name the
// attributes, Defaults fills what the block leaves out.
type config struct {
	Path       string `hcl:"path,optional" desc:"file to read (a /proc/loadavg format)"`
	ResourceID string `hcl:"resource_id,optional" desc:"resource the samples describe (default: the host name)"`
}

var meters = []sample.MeterInfo{
	{Name: "loadavg.1min", Type: sample.Gauge, Unit: "process", Description: "load average over 1 minute"},
	{Name: "loadavg.5min", Type: sample.Gauge, Unit: "process", Description: "load average over 5 minutes"},
	{Name: "loadavg.15min", Type: sample.Gauge, Unit: "process", Description: "load average over 15 minutes"},
}

func spec() pollster.Spec[config] {
	return pollster.Spec[config]{
		Name:        "loadavg",
		Version:     version,
		Description: "Load averages from /proc/loadavg (an example third-party plugin).",
		Meters:      meters,
		Defaults:    config{Path: "/proc/loadavg"},
		New:         newLoadavg,
	}
}

func main() { pollster.Serve(spec()) }

type loadavg struct {
	cfg config
	log hclog.Logger
}

var _ pollster.Pollster = (*loadavg)(nil)

// newLoadavg checks the config: an error from schema.AttrError points
// `altimeter validate` at the attribute's file:line:col.
func newLoadavg(c config, log hclog.Logger) (pollster.Pollster, error) {
	if !strings.HasPrefix(c.Path, "/") {
		return nil, schema.AttrError("path", "must be an absolute path")
	}
	if c.ResourceID == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name: %w", err)
		}
		c.ResourceID = h
	}
	return &loadavg{cfg: c, log: log}, nil
}

// Poll reads the file once and returns the meters the host asked for. A
// pollster's reading has no natural unique id, so MessageID stays empty:
// the store keys each sample by its series and timestamp, and a redelivered
// sample is stored once.
func (l *loadavg) Poll(_ context.Context, req pollster.Request) ([]sample.Sample, error) {
	b, err := os.ReadFile(l.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("read load averages: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return nil, fmt.Errorf("%s: want 3 load averages, got %q", l.cfg.Path, strings.TrimSpace(string(b)))
	}
	now := time.Now()
	want := map[string]bool{}
	for _, m := range req.Meters {
		want[m] = true
	}
	var out []sample.Sample
	for i, m := range meters {
		if !want[m.Name] {
			continue
		}
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: field %d: %w", l.cfg.Path, i+1, err)
		}
		out = append(out, sample.Sample{
			Name: m.Name, Type: m.Type, Unit: m.Unit, Volume: v,
			ResourceID: l.cfg.ResourceID, Timestamp: now,
		})
	}
	return out, nil
}
