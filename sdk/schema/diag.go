package schema

import (
	"github.com/hashicorp/hcl/v2"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

// Diagnostics turns the config errors a plugin's constructor reported into
// diagnostics at the ranges of the attributes they name.
func (d *Decoded) Diagnostics(errs []*pb.ConfigError) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, e := range errs {
		r := d.Range(e.GetAttribute())
		summary := e.GetSummary()
		if summary == "" {
			summary = "Invalid plugin configuration"
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   e.GetDetail(),
			Subject:  r.Ptr(),
		})
	}
	return diags
}
