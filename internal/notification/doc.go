// Package notification holds what the notification-to-sample (meters) and
// notification-to-event (events) mapping engines share: the Notification
// type the oslo listener decodes, the document JSONPath definitions are
// evaluated against (Ceilometer's message shape: event_type, publisher_id,
// priority, payload, ctxt, metadata), compiled definition fields
// (jsonpath-rw-ext paths with `|` alternatives, arithmetic, string literals
// and the split/sub/str/len extensions, on github.com/ohler55/ojg/jp), the
// trait plugins (split, bitfield, timedelta), event-type matchers (fnmatch
// globs and Python regular expressions with lookahead), value conversions
// with Python's semantics and the typed errors both engines return.
//
// Where this departs from Ceilometer, on purpose:
//   - A | at the top level of an expression (or in parentheses) separates
//     whole alternatives; in jsonpath-rw's grammar it binds tighter than
//     the dot, which no definition means.
//   - A quoted string where a value is expected is a string literal
//     ($.payload.host + "_" + $.payload.nodename), as definitions intend.
//   - Parse fails on the first bad definition, with its file:line:col,
//     where Ceilometer logs it and loads the rest.
//   - A sample whose resource_id matches nothing is skipped with a
//     MappingError (Ceilometer would emit it with a null resource).
//   - The request context's project_id is a last fallback for project and
//     tenant, as newer oslo.context no longer sends "tenant".
//   - A wildcard over an object ($.payload.*) yields its values in no
//     particular order (Python keeps insertion order).
//   - string * number gives no value (Python repeats the string).
//
// Everything here is pure: no I/O, no logging, no goroutines. Compiled values
// are immutable and safe for concurrent use. The package must not import
// host/ or plugins/.
package notification
