// Package testpki makes throwaway certificate authorities for tests: a CA
// and leaf certificates it signs, written as PEM files, for the API's TLS
// and the cluster's mutual TLS.
//
// It is imported only by tests. It must not import host/ or plugins/.
package testpki
