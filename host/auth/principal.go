package auth

import "errors"

// Role is what a token may do.
type Role string

// The roles. A member sees and writes only its own project; an admin sees
// every project.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Principal is who a request acts as.
type Principal struct {
	TokenID string
	Project string // empty for an admin token issued without a project
	Role    Role
}

// IsAdmin reports whether p may see every project.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// Scope returns the project p is confined to, or "" for an admin.
func (p Principal) Scope() string {
	if p.IsAdmin() {
		return ""
	}
	return p.Project
}

// Sentinel errors.
var (
	// ErrUnauthorized means no token, or one that is unknown or revoked.
	ErrUnauthorized = errors.New("unauthorized")
)
