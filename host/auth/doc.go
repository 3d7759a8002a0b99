// Package auth owns API tokens: the admin token written to
// <data_dir>/admin-token on first start, tokens issued by
// `altimeter token create`, stored hashed, and the Principal a token
// resolves to. It must not import host/api or host/store.
//
// Files under the data directory:
//
//	tokens.json   every live token as SHA-256 hash, id, project, role and
//	              creation time (never the plaintext); mode 0600, replaced
//	              atomically (temp file + rename)
//	tokens.lock   flock(2) target that serialises writers across processes
//	              (the agent and the CLI)
//	admin-token   plaintext of the bootstrap admin token, mode 0600
//
// A Store sees tokens written by another process without a restart: it
// stats tokens.json at most once a second, and at once on an unknown token,
// and rereads it when it changed.
package auth
