package main

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/altimeter/altimeter/internal/notification/meters"
	"github.com/altimeter/altimeter/sdk/schema"
)

// meterBlock is a meter definition written in HCL instead of meters.yaml:
// the same fields with the same meaning (values are JSONPath expressions
// into the notification, or constants).
type meterBlock struct {
	Name       string            `hcl:"name,label"`
	EventType  []string          `hcl:"event_type" desc:"event types the meter applies to (regular expressions matched at the start, as meters.yaml)"`
	Type       string            `hcl:"type" desc:"sample type: gauge, delta or cumulative"`
	Unit       string            `hcl:"unit" desc:"sample unit"`
	Volume     string            `hcl:"volume" desc:"JSONPath of the volume (arithmetic allowed, as meters.yaml), or a number"`
	ResourceID string            `hcl:"resource_id" desc:"JSONPath of the resource id"`
	ProjectID  string            `hcl:"project_id,optional" desc:"JSONPath of the project id"`
	UserID     string            `hcl:"user_id,optional" desc:"JSONPath of the user id"`
	Timestamp  string            `hcl:"timestamp,optional" desc:"JSONPath of the timestamp; default: the notification's"`
	Metadata   map[string]string `hcl:"metadata,optional" desc:"resource metadata: key = JSONPath"`
}

// compileMeterBlocks turns each HCL meter block into definitions through
// the meters.yaml parser, so both forms mean exactly the same; an error
// names the block's attribute.
func compileMeterBlocks(blocks []meterBlock) ([]*meters.Definitions, error) {
	var out []*meters.Definitions
	for i, b := range blocks {
		def := map[string]any{
			"name": b.Name, "event_type": b.EventType, "type": b.Type, "unit": b.Unit,
			"resource_id": b.ResourceID,
		}
		if v, err := strconv.ParseFloat(b.Volume, 64); err == nil {
			def["volume"] = v
		} else {
			def["volume"] = b.Volume
		}
		for k, v := range map[string]string{"project_id": b.ProjectID, "user_id": b.UserID, "timestamp": b.Timestamp} {
			if v != "" {
				def[k] = v
			}
		}
		if len(b.Metadata) > 0 {
			def["metadata"] = b.Metadata
		}
		src, err := yaml.Marshal(map[string]any{"metric": []any{def}})
		if err != nil {
			return nil, fmt.Errorf("meter %q: %w", b.Name, err)
		}
		d, err := meters.Parse(src, fmt.Sprintf("meter %q", b.Name))
		if err != nil {
			return nil, schema.AttrError(fmt.Sprintf("meter.%d.name", i), err.Error())
		}
		out = append(out, d)
	}
	return out, nil
}
