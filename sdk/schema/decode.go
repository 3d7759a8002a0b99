package schema

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Decoded is a config body decoded against a schema.
type Decoded struct {
	// Value is an object of ImpliedType; absent optional attributes are null.
	Value cty.Value
	// Ranges maps dotted attribute paths ("window", "meter.0.url") and block
	// paths ("meter.0") to where they are written, for AttributeErrors.
	Ranges map[string]hcl.Range
	// Body is the whole body's range.
	Body hcl.Range
}

// Range returns where path is written, falling back to the nearest enclosing
// block and then to the body.
func (d *Decoded) Range(path string) hcl.Range {
	for p := path; p != ""; {
		if r, ok := d.Ranges[p]; ok {
			return r
		}
		i := len(p) - 1
		for i >= 0 && p[i] != '.' {
			i--
		}
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return d.Body
}

// Decode decodes body against s. Unknown attributes and blocks, missing
// required ones and values of the wrong type are diagnostics with a Subject.
func Decode(body hcl.Body, s *Schema) (*Decoded, hcl.Diagnostics) {
	if s == nil {
		s = &Schema{}
	}
	d := &Decoded{Ranges: map[string]hcl.Range{}, Body: body.MissingItemRange()}
	if sb, ok := body.(interface{ Range() hcl.Range }); ok {
		d.Body = sb.Range()
	}
	v, diags := d.decodeBody(body, s, "")
	d.Value = v
	return d, diags
}

func (d *Decoded) decodeBody(body hcl.Body, s *Schema, prefix string) (cty.Value, hcl.Diagnostics) {
	bs := &hcl.BodySchema{}
	for _, a := range s.Attributes {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, b := range s.Blocks {
		bs.Blocks = append(bs.Blocks, hcl.BlockHeaderSchema{Type: b.TypeName, LabelNames: b.Labels})
	}
	content, diags := body.Content(bs)
	vals := make(map[string]cty.Value, len(s.Attributes)+len(s.Blocks))
	for _, a := range s.Attributes {
		attr, ok := content.Attributes[a.Name]
		if !ok {
			vals[a.Name] = cty.NullVal(a.Type)
			continue
		}
		d.Ranges[prefix+a.Name] = attr.Expr.Range()
		v, vd := attr.Expr.Value(nil)
		diags = append(diags, vd...)
		if vd.HasErrors() {
			vals[a.Name] = cty.NullVal(a.Type)
			continue
		}
		cv, err := convert.Convert(v, a.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Incorrect attribute value type",
				Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, err),
				Subject:  attr.Expr.Range().Ptr(),
			})
			cv = cty.NullVal(a.Type)
		}
		vals[a.Name] = cv
	}
	for i := range s.Blocks {
		b := &s.Blocks[i]
		var blocks hcl.Blocks
		for _, blk := range content.Blocks {
			if blk.Type == b.TypeName {
				blocks = append(blocks, blk)
			}
		}
		switch b.Nesting {
		case NestingList:
			if len(blocks) == 0 {
				vals[b.TypeName] = cty.ListValEmpty(b.objectType())
				continue
			}
			elems := make([]cty.Value, 0, len(blocks))
			for j, blk := range blocks {
				p := prefix + b.TypeName + "." + strconv.Itoa(j)
				v, bd := d.decodeBlock(blk, b, p)
				diags = append(diags, bd...)
				elems = append(elems, v)
			}
			vals[b.TypeName] = cty.ListVal(elems)
		default:
			switch {
			case len(blocks) == 0 && b.Required:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing " + b.TypeName + " block",
					Detail:   fmt.Sprintf("A %s block is required here.", b.TypeName),
					Subject:  body.MissingItemRange().Ptr(),
				})
				vals[b.TypeName] = cty.NullVal(b.objectType())
			case len(blocks) == 0:
				vals[b.TypeName] = cty.NullVal(b.objectType())
			default:
				for _, extra := range blocks[1:] {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate " + b.TypeName + " block",
						Detail:   fmt.Sprintf("Only one %s block is allowed; the first is at %s.", b.TypeName, blocks[0].DefRange),
						Subject:  extra.DefRange.Ptr(),
					})
				}
				v, bd := d.decodeBlock(blocks[0], b, prefix+b.TypeName)
				diags = append(diags, bd...)
				vals[b.TypeName] = v
			}
		}
	}
	return cty.ObjectVal(vals), diags
}

func (d *Decoded) decodeBlock(blk *hcl.Block, b *Block, path string) (cty.Value, hcl.Diagnostics) {
	d.Ranges[path] = blk.DefRange
	v, diags := d.decodeBody(blk.Body, b.Body, path+".")
	if diags.HasErrors() {
		return cty.NullVal(b.objectType()), diags
	}
	m := v.AsValueMap()
	if m == nil {
		m = map[string]cty.Value{}
	}
	for i, l := range b.Labels {
		m[l] = cty.StringVal(blk.Labels[i])
		d.Ranges[path+"."+l] = blk.LabelRanges[i]
	}
	return cty.ObjectVal(m), diags
}
