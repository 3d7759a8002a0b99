// Command http is the "http" pollster plugin, Altimeter's form of
// Ceilometer's dynamic pollsters: each meter block of its config names a URL
// and how to read samples from the JSON (JSONPath or dotted paths, through
// github.com/ohler55/ojg/jp) or text (a regular expression) response:
// entries, value, resource/project/user IDs, metadata, value mapping,
// value expressions, skipped values, next-page links and multi-metric forms. Each meter block
// is one central resource (discovery method "definitions"), so the host's
// ownership hook decides which agent polls it.
//
// It imports the SDK and internal/scale (value expressions); it never
// imports the host.
package main
