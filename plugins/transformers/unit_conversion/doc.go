// Command unit_conversion is the "unit_conversion" transformer plugin, after
// Ceilometer's transformer of that name: for samples whose name matches one of
// its patterns it rewrites the name (fixed, or by regular expression), the
// unit and the type, and rescales the volume with an expression in the
// transformers' shared language (internal/scale: Ceilometer's Python
// arithmetic) compiled once at configuration. Other samples pass through
// unchanged.
//
// It imports only the SDK and the shared internal/scale and internal/xform;
// it never imports the host.
package main
