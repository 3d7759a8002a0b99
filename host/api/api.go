package api

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/host/store"
)

// Plugin is one plugin instance as /v2/plugins shows it.
type Plugin struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Version    string    `json:"version"`
	State      string    `json:"state"`
	PID        int       `json:"pid"`
	Restarts   int       `json:"restarts"`
	Since      time.Time `json:"since"`
	LastError  string    `json:"last_error,omitempty"`
	StderrTail []string  `json:"stderr_tail,omitempty"`
	Meters     []string  `json:"meters"`
	// Queue is a publisher's queue depth; nil for other kinds.
	Queue *PluginQueue `json:"queue,omitempty"`
}

// PluginQueue is what waits in a publisher's queue (the same figures as
// /metrics' altimeter_publisher_queue_*), and the queue's bounds.
type PluginQueue struct {
	// Type is "disk" or "memory".
	Type    string `json:"type"`
	Samples int64  `json:"samples"`
	Bytes   int64  `json:"bytes"`
	// OldestAgeSeconds is how long the oldest undelivered batch has
	// waited; 0 when the queue is empty.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// MaxBytes and Full bound a disk queue; MaxSamples a memory queue.
	MaxBytes   int64  `json:"max_bytes,omitempty"`
	Full       string `json:"full,omitempty"`
	MaxSamples int    `json:"max_samples,omitempty"`
}

// PluginLister lists the running plugin instances (local state).
type PluginLister interface {
	Plugins() []Plugin
}

// Options configure the server.
type Options struct {
	Address  string
	Logger   hclog.Logger
	Gatherer prometheus.Gatherer
	Plugins  PluginLister
	// Store serves the Ceilometer v2 data endpoints (/v2/meters,
	// /v2/samples, /v2/resources, /v2/query/samples, /v2/capabilities).
	// When nil those endpoints are not served (404).
	Store store.Reader
	// Writer takes POST /v2/meters/{name}, on behalf of the token's
	// project (a member) or of an admin; when nil that method answers 405.
	Writer store.ProjectWriter
	// Events serves the Panko v2 event endpoints (/v2/events,
	// /v2/event_types); when nil those endpoints are not served (404).
	Events store.EventReader
	// Notifications serves the notification archive (/v2/notifications,
	// /v2/requests; notifications.go); when nil it is not served.
	Notifications NotificationArchive
	// Auth resolves X-Auth-Token for the data endpoints; when nil every
	// data request is refused (401).
	Auth Authenticator
	// Prom serves the Prometheus query API under /api/v1 (promql.go);
	// when nil it is not served.
	Prom *promapi.API
	// Console serves the web console at / (console.go); when nil / is
	// not served.
	Console http.Handler
	// Cluster serves /v2/cluster (cluster.go); when nil it is not served.
	Cluster ClusterService
	// Tokens serves /v2/tokens (admin only); when nil it is not served.
	Tokens TokenManager
	// Alarms serves Aodh's v2 alarm endpoints (/v2/alarms,
	// /v2/query/alarms; alarms.go); when nil they are not served.
	Alarms AlarmService
	// Ready, when set, is asked by /healthz: an error means not ready
	// (503 with the reason), e.g. while the member has no leader.
	Ready func() error
	// Limits bound the work of one request (limits.go); zero fields take
	// the defaults.
	Limits Limits
	// Registerer takes the API's own metrics (refusals, stopped
	// requests); when nil they are kept but not exported.
	Registerer prometheus.Registerer
	// PublicURL, when set, is the base of the links the API builds
	// (resource links): scheme://host[:port][/prefix] as clients reach the
	// agent (through a proxy, say). Without it the links are built from
	// the listen address. The request's Host header is never used: a
	// client could forge it.
	PublicURL string
	// MetricsRequireToken makes /metrics ask for a token (any valid token,
	// member or admin); it is open by default, as Prometheus scrapes it.
	MetricsRequireToken bool
	// ServerLimits bound the HTTP server's connections (server.go); zero
	// fields take the defaults.
	ServerLimits ServerLimits
	// TLS, when set, serves HTTPS with it (server.go, TLSConfig).
	TLS *tls.Config
}

// Server is the agent's HTTP server.
type Server struct {
	opts Options
	log  hclog.Logger
	srv  *http.Server
	ln   net.Listener
	// limits are Options.Limits with defaults; metrics count what they
	// refuse.
	limits  Limits
	metrics *apiMetrics
}

// New builds the router; Serve starts it.
func New(o Options) *Server {
	gin.SetMode(gin.ReleaseMode)
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{opts: o, log: o.Logger.Named("api"), limits: o.Limits.WithDefaults(), metrics: newAPIMetrics(o.Registerer)}
	r := gin.New()
	// Match on the escaped path so an id holding %2F stays one segment.
	r.UseRawPath = true
	r.UnescapePathValues = true
	r.Use(requestID(), s.recovery(), s.accessLog())
	r.HandleMethodNotAllowed = true
	// Every path also answers with a trailing slash, served in place: a
	// redirect's relative Location breaks keystoneauth clients
	// (aodhclient asks for /v2/capabilities/).
	r.RedirectTrailingSlash = false
	r.NoRoute(func(c *gin.Context) {
		if p := c.Request.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			c.Request.URL.Path = strings.TrimSuffix(p, "/")
			c.Request.URL.RawPath = strings.TrimSuffix(c.Request.URL.RawPath, "/")
			r.HandleContext(c)
			return
		}
		abort(c, fmt.Errorf("%s %s: %w", c.Request.Method, c.Request.URL.Path, ErrNotFound))
	})
	r.NoMethod(func(c *gin.Context) {
		abort(c, fmt.Errorf("%s %s: %w", c.Request.Method, c.Request.URL.Path, ErrMethodNotAllowed))
	})
	r.GET("/healthz", s.healthz)
	metrics := gin.WrapH(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	if o.MetricsRequireToken {
		r.GET("/metrics", s.authenticate(), metrics)
	} else {
		r.GET("/metrics", metrics)
	}
	v2 := r.Group("/v2")
	// Plugins show pids, paths and stderr lines: admins only.
	plugins := v2.Group("/plugins", s.authenticate(), s.adminOnly)
	plugins.GET("", s.listPlugins)
	plugins.GET("/:id", s.getPlugin)
	v2.GET("/openapi.json", serveOpenAPI)
	if o.Store != nil {
		s.registerData(v2)
	}
	if o.Events != nil {
		s.registerEvents(v2)
	}
	if o.Notifications != nil {
		s.registerNotifications(v2)
	}
	if o.Prom != nil {
		s.registerProm(r)
	}
	if o.Console != nil {
		s.registerConsole(r)
	}
	if o.Cluster != nil {
		s.registerCluster(v2)
	}
	if o.Tokens != nil {
		s.registerTokens(v2)
	}
	if o.Alarms != nil {
		s.registerAlarms(v2)
	}
	s.srv = s.httpServer(r)
	return s
}

// Handler exposes the router, for tests.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

func (s *Server) healthz(c *gin.Context) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready", "reason": err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) plugins() []Plugin {
	if s.opts.Plugins == nil {
		return []Plugin{}
	}
	if ps := s.opts.Plugins.Plugins(); ps != nil {
		return ps
	}
	return []Plugin{}
}

func (s *Server) listPlugins(c *gin.Context) {
	ps := s.plugins()
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	c.JSON(http.StatusOK, ps)
}

func (s *Server) getPlugin(c *gin.Context) {
	id := c.Param("id")
	for _, p := range s.plugins() {
		if p.ID == id {
			c.JSON(http.StatusOK, p)
			return
		}
	}
	abort(c, fmt.Errorf("plugin %q: %w", id, ErrNotFound))
}

func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		// A not-ready /healthz is a state, not a failure: probes ask it
		// every second while a member waits for its leader. A 503 from a full
		// disk is logged once per episode by the store.
		if c.Writer.Status() >= http.StatusInternalServerError && c.Writer.Status() != http.StatusServiceUnavailable {
			s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path,
				"status", c.Writer.Status(), "error", c.Errors.String(),
				"request_id", c.Writer.Header().Get(HeaderRequestID), "global_request_id", c.GetString(globalRequestIDKey))
			return
		}
		s.log.Debug("request", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "duration", time.Since(start), "remote", c.ClientIP(),
			"request_id", c.Writer.Header().Get(HeaderRequestID), "global_request_id", c.GetString(globalRequestIDKey))
	}
}

func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("handler panicked", "path", c.Request.URL.Path, "error", fmt.Sprint(r))
				abort(c, fmt.Errorf("internal error"))
			}
		}()
		c.Next()
	}
}

// HeaderRequestID carries the id of each request in its answer, as
// oslo.middleware's RequestId does for every OpenStack API: "req-" and a
// random UUID, new for each request.
const HeaderRequestID = "X-OpenStack-Request-Id"

// globalRequestIDKey keeps, in the gin context, a caller's own
// X-OpenStack-Request-Id when it has the req-<uuid> form (oslo's global
// request id): it is logged next to ours, never answered.
const globalRequestIDKey = "global_request_id"

// globalRequestID is the form oslo.middleware accepts for an inbound id.
var globalRequestID = regexp.MustCompile(`^req-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$`)

// requestID sets X-OpenStack-Request-Id on every answer, errors and
// unknown paths included, as oslo.middleware's RequestId (first in
// Ceilometer's, Panko's and Aodh's paste pipelines) does.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		if g := c.GetHeader(HeaderRequestID); len(g) <= 40 && globalRequestID.MatchString(g) {
			c.Set(globalRequestIDKey, g)
		}
		c.Header(HeaderRequestID, "req-"+uuid.NewString())
		c.Next()
	}
}
