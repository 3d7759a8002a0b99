// Package main is publisher.gnocchi: Ceilometer's Gnocchi publisher.
// Samples are grouped by resource and posted to Gnocchi's batch measures
// endpoint with create_metrics; the resource type of each meter, the
// archive policy of each metric and the resource attributes taken from a
// sample's metadata come from Ceilometer's gnocchi_resources.yaml (a
// built-in copy of Ceilometer 19's, or the operator's file); unknown
// resources are created and changed attributes updated, as Ceilometer
// does. It must not import host packages.
package main
