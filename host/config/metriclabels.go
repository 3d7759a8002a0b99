package config

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/altimeter/altimeter/internal/metric"
)

// metricLabels decodes api { metric_labels = ["flavor.name", ...] }: the
// resource metadata keys that become labels of the PromQL query API,
// checked by the one meter-to-metric mapping.
func (l *loader) metricLabels(a *Agent, attr *hcl.Attribute) {
	refs := l.refList(attr, false)
	keys := make([]string, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, r.Name)
	}
	if _, err := metric.New(keys); err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid metric_labels",
			Detail:   err.Error() + ".",
			Subject:  attr.Expr.Range().Ptr(),
		})
		return
	}
	a.MetricLabels = keys
}
