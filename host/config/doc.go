// Package config owns pipelines.hcl: it parses one or more files, decodes the
// host-owned outer schema (agent, pollster, polling, listener, sink), runs the
// semantic checks that need no plugin (duplicates, references, intervals,
// meter patterns), and, in Resolve, decodes each plugin-owned body against the
// schema its plugin describes and runs the checks that need plugin knowledge.
//
// Every problem is an hcl.Diagnostic with a Subject range, so the CLI renders
// it with a source snippet (WriteDiagnostics) and logs print it as
// "file:line:col: Summary: Detail" (Format).
//
// The package must not import other host packages or plugins; the plugin
// manager reaches it only through the describe callback given to Resolve.
package config
