// Package main is publisher.prometheus: Prometheus remote write 1.0. Each
// batch becomes snappy-compressed protobuf WriteRequests, one time series
// per (meter, labels), named and labelled by internal/metric, so what it
// writes answers the same PromQL as Altimeter's own query API. It must not
// import host packages.
package main
