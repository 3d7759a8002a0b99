package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/endpoint"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Limits.
const (
	// maxAnswer bounds the answer read: an "Unknown resources" 400 names
	// every unknown resource of the batch (about 100 bytes each), so it
	// must be read whole to be understood.
	maxAnswer = 1 << 20
	// maxCachedResources bounds the attribute cache; past it the cache
	// starts again (resources are then updated once more).
	maxCachedResources = 100_000
)

type config struct {
	URL                     string `hcl:"url" desc:"Gnocchi API base URL, e.g. \"http://127.0.0.1:8041\""`
	User                    string `hcl:"user,optional" desc:"user for Gnocchi's basic auth mode (auth_mode = basic; no password); leave empty with token_file or for noauth"`
	TokenFile               string `hcl:"token_file,optional" desc:"file holding a Keystone token sent as X-Auth-Token (re-read on every request)"`
	ArchivePolicy           string `hcl:"archive_policy,optional" desc:"archive policy of every metric, overriding the definitions (Ceilometer's archive_policy option)"`
	ResourcesDefinitionFile string `hcl:"resources_definition_file,optional" desc:"gnocchi_resources.yaml to use instead of the built-in copy of Ceilometer's"`
	FilterProjectID         string `hcl:"filter_project_id,optional" desc:"skip samples of this project (Gnocchi's own service project, as Ceilometer's filter_project)"`
	CreateArchivePolicies   bool   `hcl:"create_archive_policies,optional" desc:"create the definitions' archive policies at the first publish (ignoring those that exist)"`
	Timeout                 string `hcl:"timeout,optional" desc:"bound on one HTTP request"`
}

func defaultConfig() config {
	return config{CreateArchivePolicies: true, Timeout: "30s"}
}

type gnocchi struct {
	cfg     config
	base    string
	defs    *definitions
	client  *http.Client
	log     hclog.Logger
	ensured bool
	// attrs is the hash of the attributes last written per resource.
	attrs map[string][32]byte

	measures, created, updated, unhandled, filtered, skippedEvents atomic.Uint64
	unhandledLogged                                                map[string]bool
}

var _ publisher.Publisher = (*gnocchi)(nil)

func newGnocchi(c config, log hclog.Logger) (*gnocchi, error) {
	var errs []error
	if _, err := endpoint.ParseBase(c.URL); err != nil {
		errs = append(errs, schema.AttrError("url", err.Error()+", e.g. \"http://127.0.0.1:8041\""))
	}
	if c.User != "" && c.TokenFile != "" {
		errs = append(errs, schema.AttrError("user", "set at most one of user and token_file"))
	}
	d, err := endpoint.ParseTimeout(c.Timeout)
	if err != nil {
		errs = append(errs, schema.AttrError("timeout", err.Error()))
	}
	client, err := endpoint.Client(d, "", "", "")
	if err != nil {
		errs = append(errs, err)
	}
	src := ceilometerResources
	if c.ResourcesDefinitionFile != "" {
		if src, err = os.ReadFile(c.ResourcesDefinitionFile); err != nil {
			errs = append(errs, schema.AttrError("resources_definition_file", "cannot be read: "+err.Error()))
		}
	}
	var defs *definitions
	if len(errs) == 0 {
		if defs, err = parseDefinitions(src, c.ArchivePolicy); err != nil {
			errs = append(errs, schema.AttrError("resources_definition_file", err.Error()))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &gnocchi{cfg: c, base: strings.TrimRight(c.URL, "/"), defs: defs, client: client, log: log,
		attrs: map[string][32]byte{}, unhandledLogged: map[string]bool{}}, nil
}

// resourceInfo is what creating or updating one resource needs.
type resourceInfo struct {
	typ   string
	id    string
	user  string
	extra map[string]any // project_id and the definition's attributes
}

type metricMeasures struct {
	ArchivePolicyName string    `json:"archive_policy_name"`
	Unit              string    `json:"unit,omitempty"`
	Measures          []measure `json:"measures"`
}

type measure struct {
	Timestamp string  `json:"timestamp"`
	Value     float64 `json:"value"`
}

// Publish posts b's samples as Ceilometer's publisher does: one batch of
// measures per call, creating the resources Gnocchi does not know, then
// updating resources whose attributes changed. Meters without a resource
// definition are skipped and counted, as Ceilometer logs and skips them.
func (g *gnocchi) Publish(ctx context.Context, b *sample.Batch) error {
	if n := len(b.Events); n > 0 {
		g.skippedEvents.Add(uint64(n))
	}
	if err := g.ensureArchivePolicies(ctx); err != nil {
		return err
	}
	batch := map[string]map[string]*metricMeasures{}
	infos := map[string]*resourceInfo{}
	var order []string
	n := 0
	for i := range b.Samples {
		s := &b.Samples[i]
		if g.cfg.FilterProjectID != "" && s.ProjectID == g.cfg.FilterProjectID {
			g.filtered.Add(1)
			continue
		}
		rd := g.defs.byMeter[s.Name]
		if rd == nil {
			g.unhandled.Add(1)
			if !g.unhandledLogged[s.Name] && len(g.unhandledLogged) < 1000 {
				g.unhandledLogged[s.Name] = true
				g.log.Warn("meter is not handled by gnocchi (no resource definition); skipping it", "meter", s.Name)
			}
			continue
		}
		rid := strings.ReplaceAll(s.ResourceID, "/", "_") // / is forbidden by Gnocchi
		info := infos[rid]
		if info == nil {
			info = &resourceInfo{typ: rd.Type, id: rid, user: s.UserID, extra: map[string]any{}}
			infos[rid] = info
			order = append(order, rid)
		}
		info.extra["project_id"] = nullable(s.ProjectID)
		for k, v := range rd.attributes(asDict(s)) {
			info.extra[k] = v
		}
		ms := batch[rid]
		if ms == nil {
			ms = map[string]*metricMeasures{}
			batch[rid] = ms
		}
		mm := ms[s.Name]
		if mm == nil {
			mm = &metricMeasures{ArchivePolicyName: rd.Policies[s.Name], Unit: s.Unit}
			ms[s.Name] = mm
		}
		mm.Measures = append(mm.Measures, measure{Timestamp: sample.FormatISOTime(s.Timestamp), Value: s.Volume})
		n++
	}
	if n == 0 {
		return nil
	}
	created, err := g.postMeasures(ctx, batch, infos)
	if err != nil {
		return err
	}
	g.measures.Add(uint64(n))
	for _, rid := range order {
		if created[rid] {
			continue
		}
		if err := g.updateIfChanged(ctx, infos[rid]); err != nil {
			// The measures are in; a failed attribute update is tried
			// again with the next sample of the resource.
			g.log.Warn("update gnocchi resource", "resource_id", rid, "error", err)
		}
	}
	return nil
}

// asDict is s as Ceilometer's Sample.as_dict(), which the definitions'
// attribute paths read (resource_metadata nested at its dots).
func asDict(s *sample.Sample) map[string]any {
	m := sample.ToCeilometer(s)
	return map[string]any{
		"name": s.Name, "type": s.Type.String(), "unit": s.Unit, "volume": s.Volume,
		"user_id": nullable(s.UserID), "project_id": nullable(s.ProjectID), "resource_id": s.ResourceID,
		"timestamp": m[sample.CeilometerTimestamp], "source": s.Source, "id": s.MessageID,
		"resource_metadata": nullNones(m[sample.CeilometerResourceMetadata]),
	}
}

// nullNones turns the metadata values that were null where the sample came
// from (kept as Python's text "None", sample.PythonStr) back into nil, so
// an attribute path skips them as Ceilometer's does: a null alternative
// gives way to the next, and an attribute with no value is left out.
func nullNones(v any) any {
	switch x := v.(type) {
	case string:
		if x == "None" {
			return nil
		}
	case map[string]any:
		for k, e := range x {
			x[k] = nullNones(e)
		}
	}
	return v
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// postMeasures posts the batch; if Gnocchi names unknown resources, it
// creates them and posts again. It returns the resources it created.
func (g *gnocchi) postMeasures(ctx context.Context, batch map[string]map[string]*metricMeasures, infos map[string]*resourceInfo) (map[string]bool, error) {
	const path = "/v1/batch/resources/metrics/measures?create_metrics=true"
	code, body, err := g.do(ctx, http.MethodPost, path, batch)
	if err != nil {
		return nil, publisher.Retry(err)
	}
	if code/100 == 2 {
		return nil, nil
	}
	unknown := unknownResources(code, body)
	if unknown == nil {
		return nil, g.httpErr("post measures", code, body)
	}
	created := map[string]bool{}
	for _, rid := range unknown {
		info := infos[rid]
		if info == nil {
			continue
		}
		res := map[string]any{"id": info.id, "user_id": nullable(info.user)}
		for k, v := range info.extra {
			res[k] = v
		}
		code, body, err := g.do(ctx, http.MethodPost, "/v1/resource/"+url.PathEscape(info.typ), res)
		switch {
		case err != nil:
			return nil, publisher.Retry(err)
		case code == http.StatusConflict: // created in the meantime
		case code/100 == 2:
			g.created.Add(1)
			created[rid] = true
			g.remember(info)
		default:
			return nil, g.httpErr("create resource "+info.id, code, body)
		}
	}
	code, body, err = g.do(ctx, http.MethodPost, path, batch)
	if err != nil {
		return nil, publisher.Retry(err)
	}
	if code/100 != 2 {
		return nil, g.httpErr("post measures", code, body)
	}
	return created, nil
}

// unknownResources returns the original ids Gnocchi's 400 "Unknown
// resources" names, or nil for any other answer.
func unknownResources(code int, body []byte) []string {
	if code != http.StatusBadRequest {
		return nil
	}
	var e struct {
		Description struct {
			Cause  string `json:"cause"`
			Detail []struct {
				OriginalResourceID string `json:"original_resource_id"`
			} `json:"detail"`
		} `json:"description"`
	}
	if json.Unmarshal(body, &e) != nil || e.Description.Cause != "Unknown resources" {
		return nil
	}
	out := make([]string, 0, len(e.Description.Detail))
	for _, d := range e.Description.Detail {
		out = append(out, d.OriginalResourceID)
	}
	return out
}

// updateIfChanged PATCHes the resource's attributes when they differ from
// what this publisher last wrote (Ceilometer's resource cache).
func (g *gnocchi) updateIfChanged(ctx context.Context, info *resourceInfo) error {
	h := hashExtra(info.extra)
	if prev, ok := g.attrs[info.id]; ok && prev == h {
		return nil
	}
	code, body, err := g.do(ctx, http.MethodPatch, "/v1/resource/"+url.PathEscape(info.typ)+"/"+url.PathEscape(info.id), info.extra)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return g.httpErr("update resource "+info.id, code, body)
	}
	g.updated.Add(1)
	g.remember(info)
	return nil
}

func (g *gnocchi) remember(info *resourceInfo) {
	if len(g.attrs) >= maxCachedResources {
		g.attrs = map[string][32]byte{}
	}
	g.attrs[info.id] = hashExtra(info.extra)
}

func hashExtra(m map[string]any) [32]byte {
	b, _ := json.Marshal(m) // sorted keys
	return sha256.Sum256(b)
}

// ensureArchivePolicies creates the definitions' archive policies once.
func (g *gnocchi) ensureArchivePolicies(ctx context.Context) error {
	if g.ensured || !g.cfg.CreateArchivePolicies {
		return nil
	}
	for _, ap := range g.defs.ArchivePolicies {
		code, body, err := g.do(ctx, http.MethodPost, "/v1/archive_policy", ap)
		if err != nil {
			return publisher.Retry(err)
		}
		if code/100 != 2 && code != http.StatusConflict {
			return g.httpErr(fmt.Sprintf("create archive policy %v", ap["name"]), code, body)
		}
	}
	g.ensured = true
	return nil
}

// httpErr classifies a Gnocchi answer: 5xx, 429, 401, 403 (a token about
// to be renewed) and 408 are worth retrying; another 4xx rejects.
func (g *gnocchi) httpErr(what string, code int, body []byte) error {
	err := fmt.Errorf("%s: gnocchi answered %d: %s", what, code, endpoint.Quote(body))
	if endpoint.Transient(code) {
		return publisher.Retry(err)
	}
	return publisher.Reject(err)
}

func (g *gnocchi) do(ctx context.Context, method, path string, v any) (int, []byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return 0, nil, fmt.Errorf("encode %s %s: %w", method, path, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	switch {
	case g.cfg.User != "":
		req.SetBasicAuth(g.cfg.User, "")
	case g.cfg.TokenFile != "":
		tok, err := endpoint.ReadToken(g.cfg.TokenFile)
		if err != nil {
			return 0, nil, fmt.Errorf("read token_file: %w", err)
		}
		req.Header.Set("X-Auth-Token", tok)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	return resp.StatusCode, endpoint.ReadAnswer(resp, maxAnswer), nil
}

// Counters implements base.CounterReporter.
func (g *gnocchi) Counters() map[string]uint64 {
	return map[string]uint64{
		"measures":          g.measures.Load(),
		"resources_created": g.created.Load(),
		"resources_updated": g.updated.Load(),
		"unhandled_samples": g.unhandled.Load(),
		"filtered_samples":  g.filtered.Load(),
		"skipped_events":    g.skippedEvents.Load(),
	}
}
