// Package main is publisher.file: it appends each batch to a local file,
// one Ceilometer JSON object per line (sample.ToCeilometer) or one line of
// Influx line protocol per sample (internal/influx), rotating the
// file by size. It must not import host packages.
package main
