package api

import (
	"errors"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/promapi"
)

// registerProm mounts the Prometheus query API (package promapi) at
// /api/v1, behind the same tokens as the data endpoints; its errors,
// authentication's included, use Prometheus's envelope so Prometheus
// clients read them.
func (s *Server) registerProm(r *gin.Engine) {
	g := r.Group("/api/v1", func(c *gin.Context) {
		p, err := s.resolve(c)
		if err != nil {
			switch {
			case errors.Is(err, auth.ErrUnauthorized):
				err = fmt.Errorf("%w: %v", promapi.ErrUnauthorized, err)
			case errors.Is(err, ErrForbidden):
				err = fmt.Errorf("%w: %v", promapi.ErrForbidden, err)
			}
			s.opts.Prom.Fail(c, err)
			return
		}
		c.Request = c.Request.WithContext(promapi.WithPrincipal(c.Request.Context(),
			promapi.Principal{Admin: p.IsAdmin(), Project: p.Project}))
		c.Next()
	})
	s.opts.Prom.Register(g)
}

// registerConsole serves the web console: / and its assets under /ui/.
// The console's pages call the API with the token the user signs in with;
// serving the files needs none.
func (s *Server) registerConsole(r *gin.Engine) {
	h := gin.WrapH(s.opts.Console)
	r.GET("/", h)
	r.HEAD("/", h)
	r.GET("/ui/*path", h)
	r.HEAD("/ui/*path", h)
}
