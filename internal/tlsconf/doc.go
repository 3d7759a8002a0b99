// Package tlsconf builds TLS client and server configurations from PEM
// files: a CA pool, a client's trust and certificate, a server's
// certificate with optional mutual TLS. The API server, the CLI and the
// http publisher share it.
//
// It must not import host/ or plugins/.
package tlsconf
