package xform

import (
	"errors"
	"regexp"
	"strings"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// TargetConfig is how a transformer names, re-units and re-types what it
// emits: Ceilometer's target name, unit and type, and its source map_from
// and target map_to regular expressions for the name and the unit. A nil
// field keeps the input's value.
type TargetConfig struct {
	Name, MapFrom, MapTo         *string
	Unit, UnitMapFrom, UnitMapTo *string
	Type                         *string
}

// Label names the output for derived message ids: name, else map_to,
// else "*".
func (c TargetConfig) Label() string {
	switch {
	case c.Name != nil:
		return *c.Name
	case c.MapTo != nil:
		return *c.MapTo
	}
	return "*"
}

// Target applies a TargetConfig. Not safe for concurrent use.
type Target struct {
	name, unit   *string
	typ          sample.Type
	nameMap      *mapping
	unitMap      *mapping
	names, units map[string]string
}

type mapping struct {
	from *regexp.Regexp
	to   string
}

// NewTarget checks c; its errors name the attributes (name, map_from,
// map_to, unit, unit_map_from, unit_map_to, type).
func NewTarget(c TargetConfig) (*Target, error) {
	t := &Target{name: c.Name, unit: c.Unit, names: map[string]string{}, units: map[string]string{}}
	var errs []error
	if c.Name != nil && *c.Name == "" {
		errs = append(errs, schema.AttrError("name", "must not be empty; leave it out to keep the name"))
	}
	if c.Unit != nil && *c.Unit == "" {
		errs = append(errs, schema.AttrError("unit", "must not be empty; leave it out to keep the unit"))
	}
	if c.Type != nil {
		typ, err := sample.ParseType(*c.Type)
		if err != nil {
			errs = append(errs, schema.AttrError("type", "must be \"gauge\", \"delta\" or \"cumulative\""))
		}
		t.typ = typ
	}
	var err error
	if t.nameMap, err = newMapping(c.MapFrom, c.MapTo, "map_from", "map_to"); err != nil {
		errs = append(errs, err)
	}
	if t.unitMap, err = newMapping(c.UnitMapFrom, c.UnitMapTo, "unit_map_from", "unit_map_to"); err != nil {
		errs = append(errs, err)
	}
	if t.nameMap != nil && c.Name != nil {
		errs = append(errs, schema.AttrError("name", "cannot be combined with map_from and map_to"))
	}
	if t.unitMap != nil && c.Unit != nil {
		errs = append(errs, schema.AttrError("unit", "cannot be combined with unit_map_from and unit_map_to"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func newMapping(from, to *string, fromAttr, toAttr string) (*mapping, error) {
	switch {
	case from == nil && to == nil:
		return nil, nil
	case from == nil:
		return nil, schema.AttrError(fromAttr, fromAttr+" and "+toAttr+" must be set together")
	case to == nil:
		return nil, schema.AttrError(toAttr, fromAttr+" and "+toAttr+" must be set together")
	}
	re, err := regexp.Compile(*from)
	if err != nil {
		return nil, schema.AttrError(fromAttr, "must be a regular expression (RE2 syntax): "+err.Error())
	}
	return &mapping{from: re, to: *to}, nil
}

// Name is the output name for an input named in: map_from replaced by
// map_to (every match, as Python's re.sub: $1 or ${1} is the first group),
// else name, else in. A mapping that gives an empty name keeps in, as
// Ceilometer's did.
func (t *Target) Name(in string) string { return t.apply(t.nameMap, t.name, t.names, in) }

// Unit is Name for the unit.
func (t *Target) Unit(in string) string { return t.apply(t.unitMap, t.unit, t.units, in) }

// Type is the output type: type if set, else in.
func (t *Target) Type(in sample.Type) sample.Type {
	if t.typ != sample.TypeUnspecified {
		return t.typ
	}
	return in
}

func (t *Target) apply(m *mapping, fixed *string, cache map[string]string, in string) string {
	// NewTarget rejects a fixed value together with a mapping.
	if m == nil {
		if fixed != nil {
			return *fixed
		}
		return in
	}
	if out, ok := cache[in]; ok {
		return out
	}
	in = strings.Clone(in) // kept: in may alias a batch's bytes
	out := m.from.ReplaceAllString(in, m.to)
	if out == "" {
		out = in
	}
	if len(cache) >= maxCache {
		clear(cache)
	}
	cache[in] = out
	return out
}
