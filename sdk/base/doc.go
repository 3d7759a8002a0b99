// Package base is the part every plugin kind shares: the Base service
// (Describe, Configure, Close), the go-plugin glue, the Serve runner that
// plugin mains end in, and the host-side client for Base. The kind packages
// (pollster, listener, transformer, publisher) build on it; plugin authors
// rarely need it directly.
package base
