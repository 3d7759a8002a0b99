package schema

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Marshal encodes a decoded value for the wire (cty JSON).
func Marshal(v cty.Value, s *Schema) ([]byte, error) {
	return ctyjson.Marshal(v, s.ImpliedType())
}

// Unmarshal decodes wire bytes produced by Marshal into dst, a pointer to the
// config struct s was derived from. Null attributes leave dst's field as it
// was, so defaults set before the call survive.
func Unmarshal(data []byte, s *Schema, dst any) error {
	if len(data) == 0 {
		return nil
	}
	v, err := ctyjson.Unmarshal(data, s.ImpliedType())
	if err != nil {
		var pe cty.PathError
		if errors.As(err, &pe) {
			return &AttributeError{Attribute: pathString(pe.Path), Summary: "Invalid value", Detail: err.Error()}
		}
		return fmt.Errorf("decode config: %w", err)
	}
	return ToStruct(v, dst)
}

// ToStruct fills dst (a pointer to a struct with hcl tags) from v.
func ToStruct(v cty.Value, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config target must be a pointer to a struct, not %T", dst)
	}
	return fill(v, rv.Elem(), "")
}

func fill(v cty.Value, rv reflect.Value, path string) error {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tg, ok := parseTag(f)
		if !ok || !v.Type().HasAttribute(tg.name) {
			continue
		}
		av := v.GetAttr(tg.name)
		if av.IsNull() {
			continue
		}
		fv := rv.Field(i)
		switch tg.kind {
		case "attr", "optional", "label":
			target := fv
			if fv.Kind() == reflect.Pointer {
				target = reflect.New(f.Type.Elem())
			} else {
				target = fv.Addr()
			}
			if err := gocty.FromCtyValue(av, target.Interface()); err != nil {
				return &AttributeError{Attribute: path + tg.name, Summary: "Invalid value for " + tg.name, Detail: err.Error()}
			}
			if fv.Kind() == reflect.Pointer {
				fv.Set(target)
			}
		case "block":
			if err := fillBlock(av, fv, path+tg.name); err != nil {
				return err
			}
		}
	}
	return nil
}

func fillBlock(av cty.Value, fv reflect.Value, path string) error {
	switch fv.Kind() {
	case reflect.Slice:
		n := av.LengthInt()
		s := reflect.MakeSlice(fv.Type(), n, n)
		i := 0
		for it := av.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if err := fill(ev, s.Index(i), fmt.Sprintf("%s.%d.", path, i)); err != nil {
				return err
			}
		}
		fv.Set(s)
	case reflect.Pointer:
		nv := reflect.New(fv.Type().Elem())
		if err := fill(av, nv.Elem(), path+"."); err != nil {
			return err
		}
		fv.Set(nv)
	default:
		return fill(av, fv, path+".")
	}
	return nil
}

// pathString renders a cty path in the dotted form Decoded.Ranges uses.
func pathString(p cty.Path) string {
	parts := make([]string, 0, len(p))
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			parts = append(parts, s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.Number {
				i, _ := s.Key.AsBigFloat().Int64()
				parts = append(parts, strconv.FormatInt(i, 10))
			} else if s.Key.Type() == cty.String {
				parts = append(parts, s.Key.AsString())
			}
		}
	}
	return strings.Join(parts, ".")
}
