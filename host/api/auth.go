package api

import (
	"context"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/auth"
)

// Authenticator resolves the token of a request (the X-Auth-Token header)
// to the principal it acts as. It returns an error wrapping
// auth.ErrUnauthorized for an unknown or revoked token; any other error is
// a failure of the authenticator (500). It is called concurrently.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Principal, error)
}

// TokenHeader is the header a request carries its token in, as OpenStack.
const TokenHeader = "X-Auth-Token"

const principalKey = "altimeter.principal"

// authenticate is the middleware of the data endpoints: it resolves the
// token and stores the principal in the request context, or answers 401.
// A member token without a project is refused (403): it would otherwise be
// confined to nothing.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.resolve(c)
		if err != nil {
			abort(c, err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// requestToken returns the token of a request: X-Auth-Token,
// "Authorization: Bearer <token>" as Grafana and Prometheus clients send it,
// or HTTP basic auth with the token as the password (any user name), for
// clients that know only basic auth (promtool 2's query command).
func requestToken(c *gin.Context) string {
	if tok := c.GetHeader(TokenHeader); tok != "" {
		return tok
	}
	h := c.GetHeader("Authorization")
	if len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(h[len("Bearer "):])
	}
	if _, pw, ok := c.Request.BasicAuth(); ok {
		return pw
	}
	return ""
}

// resolve authenticates the request's token; the error wraps
// auth.ErrUnauthorized or ErrForbidden for a refused token.
func (s *Server) resolve(c *gin.Context) (auth.Principal, error) {
	if s.opts.Auth == nil {
		return auth.Principal{}, fmt.Errorf("%w: no authenticator is configured", auth.ErrUnauthorized)
	}
	tok := requestToken(c)
	if tok == "" {
		return auth.Principal{}, fmt.Errorf("%w: missing %s header, Authorization: Bearer or basic auth", auth.ErrUnauthorized, TokenHeader)
	}
	p, err := s.opts.Auth.Authenticate(c.Request.Context(), tok)
	if err != nil {
		return auth.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !p.IsAdmin() && p.Project == "" {
		return auth.Principal{}, fmt.Errorf("%w: token %s has role %q and no project", ErrForbidden, p.TokenID, p.Role)
	}
	return p, nil
}

// principal returns the principal authenticate stored. A handler reached
// without it is a routing bug: it panics (500) rather than fail open.
func principal(c *gin.Context) auth.Principal {
	p, ok := c.Get(principalKey)
	pr, ok2 := p.(auth.Principal)
	if !ok || !ok2 {
		panic("api: data handler reached without the authenticate middleware")
	}
	return pr
}

// scope returns the project the request is confined to, "" for an admin.
func scope(c *gin.Context) string { return principal(c).Scope() }
