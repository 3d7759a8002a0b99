// Package apisource is a rule.Source over another member's Ceilometer v2
// API (the store member of a cluster): alarm evaluators on members that do
// not hold the samples read statistics and resources from the member that
// does, as the design has it, instead of their own empty store. Archive
// granularities come from the local store options (members share the
// store block). It must not import host/api or host/agent.
package apisource
