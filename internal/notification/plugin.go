package notification

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// plugin is a Ceilometer trait plugin: it turns the matches of a field
// into values.
type plugin interface {
	values(ms []match) []any
	// supportsAll is Ceilometer's support_return_all_values.
	supportsAll() bool
	needsPaths() bool
}

// compilePlugin builds a plugin from its configuration: a name, or a
// mapping with name and optional parameters.
func compilePlugin(cfg any) (plugin, error) {
	var name string
	params := map[string]any{}
	switch c := cfg.(type) {
	case string:
		name = c
	case map[string]any:
		n, ok := c["name"].(string)
		if !ok {
			return nil, errors.New("plugin: no plugin name supplied")
		}
		name = n
		if p, ok := c["parameters"]; ok && p != nil {
			m, ok := p.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("plugin %s: parameters: want a mapping, got %s", name, describe(p))
			}
			params = m
		}
	default:
		return nil, fmt.Errorf("plugin: want a name or a mapping, got %s", describe(cfg))
	}
	var (
		p   plugin
		err error
	)
	switch name {
	case "split":
		p, err = newSplit(params)
	case "bitfield":
		p, err = newBitfield(params)
	case "timedelta":
		p, err = timedelta{}, checkParams(params)
	default:
		return nil, fmt.Errorf("plugin: no plugin named %q (want split, bitfield or timedelta)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	return p, nil
}

func checkParams(params map[string]any, known ...string) error {
	for k := range params {
		found := false
		for _, n := range known {
			found = found || k == n
		}
		if !found {
			if len(known) == 0 {
				return fmt.Errorf("unknown parameter %q (it takes none)", k)
			}
			return fmt.Errorf("unknown parameter %q (want %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}

func intParam(params map[string]any, name string, def int) (int, error) {
	v, ok := params[name]
	if !ok || v == nil {
		return def, nil
	}
	i, isInt := v.(int)
	if !isInt {
		return 0, fmt.Errorf("%s: want an integer, got %s", name, describe(v))
	}
	return i, nil
}

// split is Ceilometer's SplitterTraitPlugin: one segment of each value,
// split at separator, at most max_split times.
type split struct {
	sep      string
	segment  int
	maxSplit int // -1: no limit
}

func newSplit(params map[string]any) (plugin, error) {
	if err := checkParams(params, "separator", "segment", "max_split"); err != nil {
		return nil, err
	}
	s := split{sep: "."}
	if v, ok := params["separator"]; ok {
		sep, ok := v.(string)
		if !ok || sep == "" {
			return nil, fmt.Errorf("separator: want a non-empty string, got %s", describe(v))
		}
		s.sep = sep
	}
	var err error
	if s.segment, err = intParam(params, "segment", 0); err != nil {
		return nil, err
	}
	if s.maxSplit, err = intParam(params, "max_split", -1); err != nil {
		return nil, err
	}
	return s, nil
}

func (s split) values(ms []match) []any {
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		v, ok := pySplit(Text(m.value), s.sep, s.segment, s.maxSplit)
		if !ok {
			v = nil
		}
		out = append(out, v)
	}
	return out
}

func (split) supportsAll() bool { return true }
func (split) needsPaths() bool  { return false }

// bitfield is Ceilometer's BitfieldTraitPlugin: initial_bitfield with a
// bit set for each flag whose path matched (with the given value, if any).
type bitfield struct {
	initial int64
	flags   []flag
}

type flag struct {
	path     string
	bit      uint
	value    any
	hasValue bool
}

func newBitfield(params map[string]any) (plugin, error) {
	if err := checkParams(params, "initial_bitfield", "flags"); err != nil {
		return nil, err
	}
	initial, err := intParam(params, "initial_bitfield", 0)
	if err != nil {
		return nil, err
	}
	b := bitfield{initial: int64(initial)}
	raw, _ := params["flags"].([]any)
	if params["flags"] != nil && raw == nil {
		return nil, fmt.Errorf("flags: want a list, got %s", describe(params["flags"]))
	}
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("flags[%d]: want a mapping with path and bit", i)
		}
		path, ok := m["path"].(string)
		if !ok {
			return nil, fmt.Errorf("flags[%d]: path: want a string", i)
		}
		bit, err := intParam(m, "bit", -1)
		if err != nil || bit < 0 || bit > 62 {
			return nil, fmt.Errorf("flags[%d]: bit: want an integer from 0 to 62", i)
		}
		v, has := m["value"]
		b.flags = append(b.flags, flag{path: strings.TrimPrefix(path, "$."), bit: uint(bit), value: v, hasValue: has})
	}
	return b, nil
}

func (b bitfield) values(ms []match) []any {
	found := make(map[string]any, len(ms))
	for _, m := range ms {
		found[m.path] = m.value
	}
	v := b.initial
	for _, f := range b.flags {
		got, ok := found[f.path]
		if ok && (!f.hasValue || Equal(got, f.value)) {
			v |= 1 << f.bit
		}
	}
	return []any{float64(v)}
}

func (bitfield) supportsAll() bool { return false }
func (bitfield) needsPaths() bool  { return true }

// timedelta is Ceilometer's TimedeltaPlugin: the absolute number of seconds
// between exactly two timestamps.
type timedelta struct{}

func (timedelta) values(ms []match) []any {
	if len(ms) != 2 {
		return nil
	}
	start, err1 := Datetime(ms[0].value)
	end, err2 := Datetime(ms[1].value)
	if err1 != nil || err2 != nil {
		return nil
	}
	return []any{math.Abs(end.Sub(start).Seconds())}
}

func (timedelta) supportsAll() bool { return false }
func (timedelta) needsPaths() bool  { return false }
