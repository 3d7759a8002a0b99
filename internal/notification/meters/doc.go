// Package meters turns OpenStack notifications into samples, as
// Ceilometer's meter definitions (meters.yaml, ceilometer.meter.notifications)
// describe them. Parse reads an operator's meters.yaml as it is; Default
// holds the definitions Ceilometer ships, and Legacy the instance,
// network, subnet, port, router, floating IP and stack meters older
// releases made (added only on request: a user switching from Ceilometer
// expects its default meters and no others).
//
// Semantics carried over from Ceilometer:
//   - event_type is a Python regular expression (a list: any of them)
//     matched at the start of the notification's event type, so
//     "compute.instance.(?!create.start|update).*" works; a glob such as
//     "volume.create.*" reads the same as a regular expression.
//   - Later definitions come first and a repeated name is skipped, as
//     Ceilometer loads the list in reverse.
//   - Every attribute (name, type, unit, volume, resource_id, user_id,
//     project_id, timestamp) is an expression; name, type and unit keep
//     their literal value when the expression finds nothing. user_id and
//     project_id fall back to the request context. metadata maps names to
//     expressions (values that are empty are left out); user_metadata adds
//     the "metering." keys of a mapping under user_metadata; with no
//     metadata at all, the payload is the metadata, plus event_type and
//     host (the publisher).
//   - lookup names the attributes that hold one value per sample, so one
//     notification gives several samples (Magnum, Swift).
//   - Only info and sample priorities are metered.
//
// A definition that fails on a notification loses its own sample only:
// Samples skips it, makes the others' and reports a
// *notification.MappingError per failure. Against Ceilometer, case by case:
//   - no volume, or a volume that is not a number: Ceilometer makes the
//     sample and its pipeline drops it with a warning (_validate_volume);
//   - lookup attributes with as many values as names, or one when not a
//     lookup attribute, else Ceilometer warns and the definition makes
//     nothing; a lookup whose name finds nothing makes nothing, silently,
//     in both (no error here);
//   - a bad timestamp or a type that is not gauge, delta or cumulative:
//     Ceilometer raises while building the notification's samples and
//     requeues it, so none of its samples are made, again and again;
//   - no resource_id, or an empty name: Ceilometer makes a sample without
//     them, which its publishers cannot store;
//   - an expression that fails (a division by zero): Ceilometer raises,
//     as for a bad timestamp.
//
// Sample message IDs are derived from the
// notification's message ID, the meter name and the resource ID, so a
// redelivered notification gives the same IDs.
//
// The package is pure: no I/O, no logging. It must not import host/ or
// plugins/.
package meters
