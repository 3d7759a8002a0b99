package schema

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Nesting says how many blocks of a type a body may hold.
type Nesting uint8

// The nesting modes.
const (
	NestingSingle Nesting = iota + 1
	NestingList
)

// Schema is a config body: attributes and nested blocks.
type Schema struct {
	Attributes []Attribute
	Blocks     []Block
}

// Attribute is one config attribute.
type Attribute struct {
	Name        string
	Type        cty.Type
	Required    bool
	Description string
}

// Block is a nested block type.
type Block struct {
	TypeName string
	Labels   []string
	Nesting  Nesting
	Required bool
	Body     *Schema
}

type tag struct {
	name, kind string
}

func parseTag(f reflect.StructField) (tag, bool) {
	v, ok := f.Tag.Lookup("hcl")
	if !ok {
		return tag{}, false
	}
	name, kind, _ := strings.Cut(v, ",")
	if kind == "" {
		kind = "attr"
	}
	return tag{name: name, kind: kind}, true
}

// FromStruct derives the schema of a config struct value (or pointer to one).
// A struct with no hcl tags gives an empty schema.
func FromStruct(v any) (*Schema, error) {
	t := reflect.TypeOf(v)
	if t == nil {
		return &Schema{}, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("config must be a struct, not %s", t)
	}
	return fromType(t)
}

// MustFromStruct is FromStruct for package init; it panics on a programmer error.
func MustFromStruct(v any) *Schema {
	s, err := FromStruct(v)
	if err != nil {
		panic(err)
	}
	return s
}

func fromType(t reflect.Type) (*Schema, error) {
	s := &Schema{}
	for i := range t.NumField() {
		f := t.Field(i)
		tg, ok := parseTag(f)
		if !ok {
			continue
		}
		switch tg.kind {
		case "attr", "optional":
			ty, err := gocty.ImpliedType(reflect.New(f.Type).Elem().Interface())
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			s.Attributes = append(s.Attributes, Attribute{
				Name: tg.name, Type: ty, Required: tg.kind == "attr" && f.Type.Kind() != reflect.Pointer,
				Description: f.Tag.Get("desc"),
			})
		case "block":
			bt, nesting := f.Type, NestingSingle
			switch bt.Kind() {
			case reflect.Slice:
				bt, nesting = bt.Elem(), NestingList
			case reflect.Pointer:
				bt = bt.Elem()
			}
			if bt.Kind() != reflect.Struct {
				return nil, fmt.Errorf("field %s: block must be a struct, pointer or slice of structs", f.Name)
			}
			body, err := fromType(bt)
			if err != nil {
				return nil, fmt.Errorf("block %s: %w", tg.name, err)
			}
			var labels []string
			for j := range bt.NumField() {
				if lt, ok := parseTag(bt.Field(j)); ok && lt.kind == "label" {
					labels = append(labels, lt.name)
				}
			}
			s.Blocks = append(s.Blocks, Block{
				TypeName: tg.name, Labels: labels, Nesting: nesting,
				Required: nesting == NestingSingle && f.Type.Kind() == reflect.Struct, Body: body,
			})
		case "label":
			// handled by the enclosing block
		default:
			return nil, fmt.Errorf("field %s: unsupported hcl tag kind %q", f.Name, tg.kind)
		}
	}
	return s, nil
}

// ImpliedType is the cty type of a value decoded against s: an object with
// one attribute per config attribute, per block label and per block type.
func (s *Schema) ImpliedType() cty.Type {
	if s == nil {
		return cty.EmptyObject
	}
	attrs := make(map[string]cty.Type, len(s.Attributes)+len(s.Blocks))
	for _, a := range s.Attributes {
		attrs[a.Name] = a.Type
	}
	for _, b := range s.Blocks {
		attrs[b.TypeName] = b.impliedType()
	}
	return cty.Object(attrs)
}

func (b *Block) objectType() cty.Type {
	ot := b.Body.ImpliedType().AttributeTypes()
	all := make(map[string]cty.Type, len(ot)+len(b.Labels))
	for k, v := range ot {
		all[k] = v
	}
	for _, l := range b.Labels {
		all[l] = cty.String
	}
	return cty.Object(all)
}

func (b *Block) impliedType() cty.Type {
	if b.Nesting == NestingList {
		return cty.List(b.objectType())
	}
	return b.objectType()
}

// AttributeError is a problem with one attribute's value, found by a
// plugin's constructor. Attribute is a dotted path ("window",
// "meter.0.url"); the host maps it back to the attribute's range.
type AttributeError struct {
	Attribute string
	Summary   string
	Detail    string
}

func (e *AttributeError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s: %s", e.Attribute, e.Summary)
	}
	return fmt.Sprintf("%s: %s: %s", e.Attribute, e.Summary, e.Detail)
}

// AttrError reports that attribute name has a bad value; detail says what is
// expected. Join several with errors.Join.
func AttrError(name, detail string) error {
	return &AttributeError{Attribute: name, Summary: "Invalid value for " + name, Detail: detail}
}

// AttributeErrors returns every AttributeError in err's tree.
func AttributeErrors(err error) []*AttributeError {
	var out []*AttributeError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		var ae *AttributeError
		if errors.As(e, &ae) && ae == e {
			out = append(out, ae)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		default:
			if errors.As(e, &ae) {
				out = append(out, ae)
			}
		}
	}
	walk(err)
	return out
}
