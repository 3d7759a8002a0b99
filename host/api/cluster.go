package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/auth"
)

// ErrUnavailable means the member cannot serve the request now (no
// cluster leader); the client may retry, here or at another member.
var ErrUnavailable = errors.New("unavailable")

// ClusterService is the cluster as the API uses it. Status and Partitions
// read this member's applied state (local, possibly stale on a member cut
// off from the leader); Join, Remove and Leave are forwarded to the
// leader. Errors wrap ErrBadRequest, ErrNotFound, ErrConflict or
// ErrUnavailable where they are the client's or the moment's.
type ClusterService interface {
	Status(ctx context.Context) (any, error)
	Partitions(ctx context.Context) (any, error)
	Join(ctx context.Context, id, address string) error
	Remove(ctx context.Context, id string) error
	Leave(ctx context.Context) error
}

// TokenManager issues, lists and revokes API tokens for the whole
// cluster. Revoke of an unknown id wraps auth.ErrUnknownToken; a bad role
// or project wraps auth.ErrInvalidArgument.
type TokenManager interface {
	Create(ctx context.Context, project string, role auth.Role) (string, auth.Principal, error)
	List(ctx context.Context) ([]auth.Token, error)
	Revoke(ctx context.Context, id string) error
}

// maxSmallBody bounds the bodies of the cluster and token endpoints.
const maxSmallBody = 16 << 10

func (s *Server) registerCluster(v2 *gin.RouterGroup) {
	g := v2.Group("/cluster", s.authenticate())
	g.GET("", s.clusterStatus)
	g.GET("/partitions", s.clusterPartitions)
	g.POST("/members", s.adminOnly, s.clusterJoin)
	g.DELETE("/members/:id", s.adminOnly, s.clusterRemove)
	g.POST("/leave", s.adminOnly, s.clusterLeave)
}

func (s *Server) registerTokens(v2 *gin.RouterGroup) {
	g := v2.Group("/tokens", s.authenticate(), s.adminOnly)
	g.GET("", s.listTokens)
	g.POST("", s.createToken)
	g.DELETE("/:id", s.revokeToken)
}

func (s *Server) adminOnly(c *gin.Context) {
	if !principal(c).IsAdmin() {
		abort(c, fmt.Errorf("%w: an admin token is required", ErrForbidden))
		return
	}
	c.Next()
}

// decodeSmall decodes a bounded JSON object body into v, refusing unknown
// fields and trailing data.
func decodeSmall(c *gin.Context, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxSmallBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSmallBody)
		}
		return fmt.Errorf("%w: read body: %v", ErrBadRequest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: body: trailing data", ErrBadRequest)
	}
	return nil
}

func (s *Server) clusterStatus(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	st, err := s.opts.Cluster.Status(c.Request.Context())
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *Server) clusterPartitions(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	p, err := s.opts.Cluster.Partitions(c.Request.Context())
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

type joinBody struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

func (s *Server) clusterJoin(c *gin.Context) {
	var b joinBody
	if err := decodeSmall(c, &b); err != nil {
		abort(c, err)
		return
	}
	if b.ID == "" || b.Address == "" {
		abort(c, fmt.Errorf("%w: id and address (the new member's raft host:port) are required", ErrBadRequest))
		return
	}
	if err := s.opts.Cluster.Join(c.Request.Context(), b.ID, b.Address); err != nil {
		abort(c, fmt.Errorf("join %s: %w", b.ID, err))
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": b.ID, "address": b.Address})
}

func (s *Server) clusterRemove(c *gin.Context) {
	id := c.Param("id")
	if err := s.opts.Cluster.Remove(c.Request.Context(), id); err != nil {
		abort(c, fmt.Errorf("remove %s: %w", id, err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"removed": id})
}

func (s *Server) clusterLeave(c *gin.Context) {
	if err := s.opts.Cluster.Leave(c.Request.Context()); err != nil {
		abort(c, fmt.Errorf("leave: %w", err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"left": true})
}

type tokenBody struct {
	Project string    `json:"project"`
	Role    auth.Role `json:"role"`
}

func (s *Server) createToken(c *gin.Context) {
	var b tokenBody
	if err := decodeSmall(c, &b); err != nil {
		abort(c, err)
		return
	}
	if b.Role == "" {
		b.Role = auth.RoleMember
	}
	tok, p, err := s.opts.Tokens.Create(c.Request.Context(), b.Project, b.Role)
	if err != nil {
		if errors.Is(err, auth.ErrInvalidArgument) {
			err = fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		abort(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": p.TokenID, "project": p.Project, "role": p.Role, "token": tok})
}

func (s *Server) listTokens(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	toks, err := s.opts.Tokens.List(c.Request.Context())
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, toks)
}

func (s *Server) revokeToken(c *gin.Context) {
	id := c.Param("id")
	if err := s.opts.Tokens.Revoke(c.Request.Context(), id); err != nil {
		if errors.Is(err, auth.ErrUnknownToken) {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"revoked": id})
}
