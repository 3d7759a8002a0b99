// Package main is publisher.udp: Ceilometer's UDP publisher. Each sample
// goes out as one datagram, a msgpack map with the keys of Ceilometer's
// metering message (ceilometer.publisher.utils.meter_message_from_counter)
// signed with the telemetry secret, so receivers written for Ceilometer's
// collector (and Altimeter's socket listener) read it. UDP has no
// acknowledgement: a sample is accepted once the kernel took the datagram.
// It must not import host packages.
package main
