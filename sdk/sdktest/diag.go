package sdktest

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Summaries lists each diagnostic as "LINE: Summary" (hcl.Diagnostics.Error
// shows only the first), for tables of expected config errors.
func Summaries(diags hcl.Diagnostics) []string {
	out := make([]string, 0, len(diags))
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		out = append(out, fmt.Sprintf("%d: %s", line, d.Summary))
	}
	return out
}

// Text renders every diagnostic as a "Summary: Detail" line, for checking
// that a message says what it should.
func Text(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s\n", d.Summary, d.Detail)
	}
	return b.String()
}
