// Package scale compiles and evaluates the volume expressions of the
// unit_conversion transformer ("volume / 1024", "volume * metadata[...]"),
// with github.com/expr-lang/expr. It is shared by the transformer and the
// in-process benchmark baseline, so both do the same work. It must not
// import host/.
package scale
