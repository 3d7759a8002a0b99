// Package events turns OpenStack notifications into events (a notification
// kept whole, with typed traits), as Ceilometer's event definitions
// (event_definitions.yaml, ceilometer.event.converter) describe them. Parse
// reads an operator's event_definitions.yaml as it is; Default holds the
// definitions Ceilometer ships.
//
// Semantics carried over from Ceilometer:
//   - event_type is a shell glob or a list of them; an entry starting with
//     "!" excludes, and a list of exclusions only matches everything else.
//   - The last definition in the file that matches wins (so YAML merge keys
//     can extend earlier ones).
//   - Unless DropUnmatched is given, a notification no definition matches
//     still becomes an event with the default traits only.
//   - Every event has the default traits service (publisher_id),
//     request_id (ctxt.request_id), project_id and tenant_id
//     (payload.tenant_id, else the context's tenant or project_id) and
//     user_id (payload.user_id, else ctxt.user_id); a definition may
//     override them.
//   - Traits are text (cut to 255 characters), int, float or datetime; a
//     field list means the first that matches; a trait that matches
//     nothing, or matches "" when not text, is left out. The split,
//     bitfield and timedelta plugins are supported.
//   - Only info and error priorities become events. The raw notification
//     body is kept only for the priorities given to StoreRaw.
//
// A trait whose value cannot be converted (int of "abc") fails the whole
// event with a *notification.MappingError, as it fails in Ceilometer.
//
// The package is pure: no I/O, no logging. It must not import host/ or
// plugins/.
package events
