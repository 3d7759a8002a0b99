package config

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/altimeter/altimeter/sdk/base"
)

// Pin is a plugin block: what the host requires of one plugin binary,
// whichever blocks use it.
//
//	plugin "pollster" "host" {
//	  sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//	}
type Pin struct {
	Kind base.Kind
	Name string
	// SHA256 is the digest the binary altimeter-<kind>-<name> must have,
	// 64 lower-case hexadecimal digits.
	SHA256 string
	// SHA256Range is the sha256 attribute's value, where a mismatch is
	// said to be pinned.
	SHA256Range hcl.Range
	DefRange    hcl.Range
}

var pinSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "sha256", Required: true}},
}

// decodePin decodes a plugin "<kind>" "<name>" block.
func (l *loader) decodePin(b *hcl.Block) {
	p := &Pin{Name: b.Labels[1], DefRange: b.DefRange}
	kind, err := base.ParseKind(b.Labels[0])
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin kind",
			Detail:   fmt.Sprintf("%q is not a plugin kind; use pollster, listener, transformer or publisher.", b.Labels[0]),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	p.Kind = kind
	content, diags := b.Body.Content(pinSchema)
	l.diags = append(l.diags, diags...)
	attr, ok := content.Attributes["sha256"]
	if !ok {
		return
	}
	v, ok := l.stringAttr(attr)
	if !ok {
		return
	}
	if _, err := hex.DecodeString(v); err != nil || len(v) != 64 {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid SHA-256 digest",
			Detail: fmt.Sprintf("%q is not a SHA-256 digest: want 64 hexadecimal digits, as `sha256sum %s%s-%s` prints them.",
				v, "altimeter-", b.Labels[0], b.Labels[1]),
			Subject: attr.Expr.Range().Ptr(),
		})
		return
	}
	p.SHA256, p.SHA256Range = strings.ToLower(v), attr.Expr.Range()
	if p.Kind != base.KindUnspecified {
		l.cfg.Pins = append(l.cfg.Pins, p)
	}
}

// decodeStrictPluginPermissions decodes agent { strict_plugin_permissions }.
func (l *loader) decodeStrictPluginPermissions(attr *hcl.Attribute) {
	v, d := attr.Expr.Value(nil)
	l.diags = append(l.diags, d...)
	if d.HasErrors() {
		return
	}
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.Bool) {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect value type",
			Detail:   "Inappropriate value for attribute \"strict_plugin_permissions\": a bool is required.",
			Subject:  attr.Expr.Range().Ptr(),
		})
		return
	}
	l.cfg.Agent.InsecurePluginPermissions = v.False()
	l.cfg.Agent.InsecurePluginPermissionsRange = attr.Expr.Range()
}
