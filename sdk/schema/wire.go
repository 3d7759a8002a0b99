package schema

import (
	"fmt"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// ToProto converts s for Describe.
func (s *Schema) ToProto() (*pb.Schema, error) {
	if s == nil {
		return &pb.Schema{}, nil
	}
	out := &pb.Schema{}
	for _, a := range s.Attributes {
		tj, err := ctyjson.MarshalType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", a.Name, err)
		}
		out.Attributes = append(out.Attributes, &pb.SchemaAttribute{
			Name: a.Name, Type: string(tj), Required: a.Required, Description: a.Description,
		})
	}
	for _, b := range s.Blocks {
		body, err := b.Body.ToProto()
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", b.TypeName, err)
		}
		out.Blocks = append(out.Blocks, &pb.SchemaBlock{
			TypeName: b.TypeName, Labels: b.Labels, Nesting: pb.Nesting(b.Nesting),
			Required: b.Required, Body: body,
		})
	}
	return out, nil
}

// FromProto converts a schema received in Describe.
func FromProto(p *pb.Schema) (*Schema, error) {
	s := &Schema{}
	for _, a := range p.GetAttributes() {
		ty, err := ctyjson.UnmarshalType([]byte(a.GetType()))
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", a.GetName(), err)
		}
		s.Attributes = append(s.Attributes, Attribute{
			Name: a.GetName(), Type: ty, Required: a.GetRequired(), Description: a.GetDescription(),
		})
	}
	for _, b := range p.GetBlocks() {
		body, err := FromProto(b.GetBody())
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", b.GetTypeName(), err)
		}
		n := Nesting(b.GetNesting())
		if n != NestingList {
			n = NestingSingle
		}
		s.Blocks = append(s.Blocks, Block{
			TypeName: b.GetTypeName(), Labels: b.GetLabels(), Nesting: n, Required: b.GetRequired(), Body: body,
		})
	}
	return s, nil
}
