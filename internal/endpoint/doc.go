// Package endpoint is what the publishers that POST to an HTTP service
// (http, gnocchi) share: the validation of their base URL and timeout, an
// http.Client with the configured TLS trust, the token file read for each
// request, the bounded reading of an answer, and which answers are worth
// retrying.
//
// It must not import host/ or plugins/, and stays light: the standard
// library and internal/tlsconf only.
package endpoint
