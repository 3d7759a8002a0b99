// Package schema derives a plugin's config schema from its Go config struct
// (hcl struct tags), carries it across the wire, decodes a user's HCL block
// against it with diagnostics that keep file:line:col, and fills the plugin's
// struct from the decoded value. Host and sdktest share this one decoder.
//
// Supported tags: `hcl:"name"` or `hcl:"name,attr"` (required attribute),
// `hcl:"name,optional"`, `hcl:"name,block"` (struct or pointer: at most one;
// slice of structs: any number) and `hcl:"name,label"` inside a block struct.
// A `desc:"..."` tag documents the attribute.
package schema
