// Package sample holds the Go types plugin authors use for samples, events
// and resources. It has no dependencies beyond the standard library; the wire
// form lives in package wire.
package sample
