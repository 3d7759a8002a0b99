package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ohler55/ojg/oj"

	"github.com/altimeter/altimeter/sdk/sample"
)

// page is one parsed response: its entries and the next page's link.
type page struct {
	entries []any
	next    string
}

// parse turns a response body into entries (and the next link).
func (d *definition) parse(body []byte) (page, error) {
	if d.text != nil {
		return page{entries: d.textEntries(string(body))}, d.textErr(body)
	}
	doc, err := oj.Parse(body)
	if err != nil {
		return page{}, fmt.Errorf("%w: not JSON: %v", errMalformed, err)
	}
	var pg page
	if pg.entries, err = d.entriesOf(doc); err != nil {
		return page{}, err
	}
	if d.nextURL != nil {
		switch v := d.nextURL.First(doc).(type) {
		case nil:
		case string:
			pg.next = v
		default:
			return page{}, fmt.Errorf("%w: next_sample_url_attribute %s is a %s, not a string", errMalformed, d.nextURL, kind(v))
		}
	}
	return pg, nil
}

func (d *definition) textErr(body []byte) error {
	if !d.text.Match(body) {
		return fmt.Errorf("%w: text_pattern matched nothing", errMalformed)
	}
	return nil
}

// textEntries makes one entry per match of text_pattern: its named groups,
// or "value" = the first group (the whole match without groups).
func (d *definition) textEntries(body string) []any {
	names := d.text.SubexpNames()
	named := false
	for _, n := range names[1:] {
		named = named || n != ""
	}
	var out []any
	for _, m := range d.text.FindAllStringSubmatch(body, -1) {
		e := map[string]any{}
		switch {
		case named:
			for i, n := range names {
				if n != "" && i < len(m) {
					e[n] = m[i]
				}
			}
		case len(m) > 1:
			e["value"] = m[1]
		default:
			e["value"] = m[0]
		}
		out = append(out, e)
	}
	return out
}

// entriesOf finds the entries in a JSON document: the list (or single
// object) at response_entries_key, or the document itself.
func (d *definition) entriesOf(doc any) ([]any, error) {
	v := doc
	if d.entries != nil {
		var ok bool
		if v, ok = d.entries.FirstFound(doc); !ok {
			return nil, fmt.Errorf("%w: no %s in the response", errMalformed, d.entries)
		}
	}
	switch t := v.(type) {
	case []any:
		return t, nil
	case map[string]any:
		return []any{t}, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("%w: entries are a %s, not a list or object", errMalformed, kind(v))
}

// extractResult is what one page of entries gave.
type extractResult struct {
	samples []sample.Sample
	skipped int
	invalid int
	first   error // the first invalid entry's problem
}

func (r *extractResult) bad(err error) {
	r.invalid++
	if r.first == nil {
		r.first = err
	}
}

// extract builds samples from entries; want filters meter names.
func (d *definition) extract(entries []any, now time.Time, want func(string) bool, r *extractResult) {
	for i, e := range entries {
		rid, pid, uid, err := d.ids(e)
		if err != nil {
			r.bad(fmt.Errorf("entry %d: %w", i, err))
			continue
		}
		md := d.meta(e)
		mk := func(m *meterSpec, name string, vol float64) sample.Sample {
			return sample.Sample{
				Name: name, Type: m.typ, Unit: m.unit, Volume: vol,
				ResourceID: rid, ProjectID: pid, UserID: uid,
				Timestamp: now, Source: "altimeter", MessageID: sample.NewMessageID(),
				Metadata: md,
			}
		}
		if d.multi != nil {
			d.extractMulti(i, e, want, mk, r)
			continue
		}
		for j := range d.meters {
			m := &d.meters[j]
			if !want(m.name) {
				continue
			}
			raw, ok := m.value.FirstFound(e)
			if !ok {
				r.bad(fmt.Errorf("entry %d: no %s", i, m.value))
				continue
			}
			vol, skip, err := d.volume(raw)
			switch {
			case err != nil:
				r.bad(fmt.Errorf("entry %d: %s: %w", i, m.value, err))
			case skip:
				r.skipped++
			default:
				d.emit(r, mk(m, m.name, vol), m, i)
			}
		}
	}
}

// extractMulti is Ceilometer's multi-metric form: the list at [list] in the
// entry, one sample per element, named by the element's nameAttr.
func (d *definition) extractMulti(i int, e any, want func(string) bool, mk func(*meterSpec, string, float64) sample.Sample, r *extractResult) {
	m := &d.meters[0]
	lv, ok := d.multi.list.FirstFound(e)
	list, isList := lv.([]any)
	if !ok || !isList {
		r.bad(fmt.Errorf("entry %d: %s is not a list", i, d.multi.list))
		return
	}
	for j, sub := range list {
		obj, ok := sub.(map[string]any)
		if !ok {
			r.bad(fmt.Errorf("entry %d: %s[%d] is a %s, not an object", i, d.multi.list, j, kind(sub)))
			continue
		}
		nv, ok := obj[d.multi.nameAttr]
		subName := stringify(nv)
		if !ok || subName == "" {
			r.bad(fmt.Errorf("entry %d: %s[%d] has no %s", i, d.multi.list, j, d.multi.nameAttr))
			continue
		}
		if d.skip[subName] {
			r.skipped++
			continue
		}
		name := strings.Replace(m.name, d.multi.placeholder, subName, 1)
		if !want(name) {
			continue
		}
		raw, ok := m.value.FirstFound(obj)
		if !ok {
			r.bad(fmt.Errorf("entry %d: %s[%d] has no %s", i, d.multi.list, j, m.value))
			continue
		}
		vol, skip, err := d.volume(raw)
		switch {
		case err != nil:
			r.bad(fmt.Errorf("entry %d: %s[%d].%s: %w", i, d.multi.list, j, m.value, err))
		case skip:
			r.skipped++
		default:
			d.emit(r, mk(m, name, vol), m, i)
		}
	}
}

// emit applies the meter's value expression, if any, and keeps the sample.
func (d *definition) emit(r *extractResult, s sample.Sample, m *meterSpec, entry int) {
	if m.scale != nil {
		v, err := m.scale.Eval(&s)
		if err != nil {
			r.bad(fmt.Errorf("entry %d: %s: value expression: %w", entry, s.Name, err))
			return
		}
		s.Volume = v
	}
	r.samples = append(r.samples, s)
}

// ids resolves the resource, project and user IDs of an entry.
func (d *definition) ids(e any) (rid, pid, uid string, err error) {
	get := func(p idPath, what string) (string, error) {
		if p.path == nil {
			return "", nil
		}
		v, ok := p.path.FirstFound(e)
		if ok && v != nil {
			if s := stringify(v); s != "" {
				return s, nil
			}
		}
		if p.required {
			return "", fmt.Errorf("no %s %s", what, p.path)
		}
		return "", nil
	}
	if rid = d.fixedID; rid == "" {
		if rid, err = get(d.id, "resource_id_attribute"); err != nil {
			return "", "", "", err
		}
		if rid == "" {
			rid = d.name
		}
	}
	if pid, err = get(d.project, "project_id_attribute"); err != nil {
		return "", "", "", err
	}
	if uid, err = get(d.user, "user_id_attribute"); err != nil {
		return "", "", "", err
	}
	return rid, pid, uid, nil
}

// meta collects metadata_fields (objects flattened to dotted keys, values
// as Ceilometer's API shows them: sample.FlattenMetadata; absent fields
// left out), then applies metadata_mapping.
func (d *definition) meta(e any) map[string]string {
	if len(d.metadata) == 0 {
		return nil
	}
	md := make(map[string]string, len(d.metadata))
	for _, f := range d.metadata {
		v, ok := f.path.FirstFound(e)
		if !ok {
			continue
		}
		sample.FlattenMetadata(md, f.key, v)
	}
	for from, to := range d.renames {
		v, ok := md[from]
		if !ok {
			continue
		}
		md[to] = v
		if !d.preserve && from != to {
			delete(md, from)
		}
	}
	return md
}

// volume applies skip_sample_values, then value_mapping (default_value for
// an unmapped value), then converts to a number.
func (d *definition) volume(raw any) (vol float64, skip bool, err error) {
	key := stringify(raw)
	if d.skip[key] {
		return 0, true, nil
	}
	if len(d.mapping) > 0 {
		if v, ok := d.mapping[key]; ok {
			return v, false, nil
		}
		return d.defValue, false, nil
	}
	v, err := toFloat(raw)
	return v, false, err
}

func toFloat(v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return t, nil
	case int64:
		return float64(t), nil
	case json.Number:
		return strconv.ParseFloat(string(t), 64)
	case bool:
		if t {
			return 1, nil
		}
		return 0, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number (map it with value_mapping)", truncate(t, 40))
		}
		return f, nil
	}
	return 0, fmt.Errorf("value is a %s, not a number", kind(v))
}

// stringify renders a JSON value the way value_mapping and
// skip_sample_values keys, IDs and metadata are written.
func stringify(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(t, 10)
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, int64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
