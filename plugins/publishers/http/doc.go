// Package main is publisher.http: it posts samples to another Altimeter
// agent's API (POST /v2/meters/{name}, Ceilometer's OldSample JSON), so
// cluster members can publish to a store member. Posts carry message ids,
// and the receiving store skips ids it already holds, so retries (after a
// timeout or a 5xx) never store a sample twice. It must not import host
// packages.
package main
