// Package xform holds what Altimeter's transformer plugins share, as
// Ceilometer's transformers shared their base classes: which samples a
// transformer takes (meters, unmatched), how it names, re-units and
// re-types its output (target name, map_from/map_to, unit, type), the
// bounded per-series state that rate_of_change, delta and arithmetic keep
// (Cache: least recently used first out, idle expiry, counted evictions),
// the message ids of derived samples (derived from the input's, so a
// redelivered input gives the same id), and the warn-once error reporting
// with counters every transformer exposes.
//
// It imports only the SDK and the standard library; never host/.
package xform
