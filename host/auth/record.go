package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// maxTokenID bounds a record's id.
const maxTokenID = 64

// Check reports what is wrong with a record that came from outside this
// process (tokens.json, a replicated command): a bad id, hash, role or
// project.
func (r Record) Check() error {
	if r.ID == "" || len(r.ID) > maxTokenID || strings.IndexFunc(r.ID, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }) >= 0 {
		return fmt.Errorf("%w: token id %q: want 1 to %d printable characters", ErrInvalidArgument, truncateID(r.ID), maxTokenID)
	}
	if _, err := hex.DecodeString(r.Hash); err != nil || len(r.Hash) != 2*sha256.Size {
		return fmt.Errorf("%w: token %s: hash is not a hex SHA-256", ErrInvalidArgument, r.ID)
	}
	if err := Validate(r.Project, r.Role); err != nil {
		return fmt.Errorf("token %s: %w", r.ID, err)
	}
	return nil
}

// ReadFile returns the records of <dataDir>/tokens.json, or none when
// there is no such file: what an agent upgrading to the replicated token
// store imports on its first start.
func ReadFile(dataDir string) ([]Record, error) {
	f, _, err := readTokens(dataDir)
	if err != nil {
		return nil, err
	}
	return f.Tokens, nil
}

func truncateID(s string) string {
	if len(s) > maxTokenID {
		return s[:maxTokenID] + "..."
	}
	return s
}

// WriteAdminToken writes plain to <dataDir>/admin-token (mode 0600,
// atomically), where the CLI reads it by default.
func WriteAdminToken(dataDir, plain string) error {
	return writeFileAtomic(dataDir, AdminTokenFile, []byte(plain+"\n"))
}
