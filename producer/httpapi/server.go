// Package httpapi is realname's HTTP API, for backends in any language:
// create a verification (idempotent by orderNo and Idempotency-Key, with an
// optional wait for the result), look verifications up, stream a batch
// file in, follow, cancel and export batches, and replay webhooks. Every
// route but the probes and the OpenAPI document needs an API key with the
// right scope. The document is served at /openapi.json.
package httpapi

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/batch"
	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/producer"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return openAPI }

// Config configures a Server. Redis and Producer are required.
type Config struct {
	// Redis holds the queue, the results, the batches and the keys.
	Redis redis.UniversalClient
	// Producer enqueues verifications. Its CallbackPolicy is the one
	// batches' callback URLs are held to as well.
	Producer *producer.Client
	// Store defaults to the Redis result store on Redis.
	Store store.Store
	// Keys defaults to the key store on Redis.
	Keys *apikey.Store
	// MaxBodyBytes bounds a JSON request body. Defaults to 64 KiB.
	MaxBodyBytes int64
	// MaxBatchBytes bounds a batch upload. Defaults to 2 GiB.
	MaxBatchBytes int64
	// MaxWait bounds ?wait= on POST /v1/verifications. Defaults to 30s.
	MaxWait time.Duration
	// RequestTimeout bounds every request but batch uploads and exports.
	// Defaults to MaxWait + 10s.
	RequestTimeout time.Duration
	// Monitoring, when set, is the dashboard served under /monitoring/ to
	// keys with the read scope; it should be read-only.
	Monitoring http.Handler
	// MonitoringAdmin, when set, is the dashboard with its actions, served
	// instead of Monitoring to admin keys.
	MonitoringAdmin http.Handler
	// DashboardSession is how long the dashboard's sign-in cookie lives.
	// Defaults to 12h.
	DashboardSession time.Duration
	// LoginFailures is how many failed dashboard sign-ins one client
	// address may make in a row before it must wait; then one more each
	// LoginRetryAfter. Default to 5 and 10s.
	LoginFailures   int
	LoginRetryAfter time.Duration
	// Metrics, when set, is served at /metrics without a key.
	Metrics http.Handler
	// Logger receives one line per request; never personal data.
	Logger zerolog.Logger
}

// Server serves the API.
type Server struct {
	cfg       Config
	store     store.Store
	keys      *apikey.Store
	batches   *batch.Store
	inspector *asynq.Inspector
	mux       *http.ServeMux
	logins    *loginLimits
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Redis == nil || cfg.Producer == nil {
		return nil, errors.New("httpapi: Redis and Producer are required")
	}
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, 64<<10)
	cfg.MaxBatchBytes = cmp.Or(cfg.MaxBatchBytes, 2<<30)
	cfg.MaxWait = cmp.Or(cfg.MaxWait, 30*time.Second)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, cfg.MaxWait+10*time.Second)
	cfg.DashboardSession = cmp.Or(cfg.DashboardSession, 12*time.Hour)
	cfg.LoginFailures = cmp.Or(cfg.LoginFailures, 5)
	cfg.LoginRetryAfter = cmp.Or(cfg.LoginRetryAfter, 10*time.Second)
	s := &Server{cfg: cfg, store: cfg.Store, keys: cfg.Keys, batches: batch.New(cfg.Redis, batch.WithCallbackPolicy(cfg.Producer.CallbackPolicy())),
		inspector: asynq.NewInspectorFromRedisClient(cfg.Redis), mux: http.NewServeMux(),
		logins: newLoginLimits(cfg.LoginFailures, cfg.LoginRetryAfter)}
	if s.store == nil {
		st, err := store.NewRedis(cfg.Redis, store.RedisConfig{})
		if err != nil {
			return nil, err
		}
		s.store = st
	}
	if s.keys == nil {
		s.keys = apikey.New(cfg.Redis)
	}
	s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rw, r)
	// The path is logged without its query: ?orderNo= is not personal data
	// but query strings are where such data would end up.
	s.cfg.Logger.Info().Str("method", r.Method).Str("path", r.URL.Path).Int("status", rw.status).
		Dur("duration", time.Since(start)).Msg("request")
}

func (s *Server) routes() {
	quick := func(scope apikey.Scope, h http.HandlerFunc) http.Handler {
		return http.TimeoutHandler(s.auth(scope, h), s.cfg.RequestTimeout, `{"error":{"code":"timeout","message":"the request took too long"}}`)
	}
	s.mux.Handle("POST /v1/verifications", quick(apikey.ScopeEnqueue, s.createVerification))
	s.mux.Handle("GET /v1/verifications", quick(apikey.ScopeRead, s.findVerification))
	s.mux.Handle("GET /v1/verifications/{id}", quick(apikey.ScopeRead, s.getVerification))
	s.mux.Handle("POST /v1/batches", s.auth(apikey.ScopeEnqueue, s.createBatch))
	s.mux.Handle("GET /v1/batches/{id}", quick(apikey.ScopeRead, s.getBatch))
	s.mux.Handle("POST /v1/batches/{id}/cancel", quick(apikey.ScopeEnqueue, s.cancelBatch))
	s.mux.Handle("GET /v1/batches/{id}/results", s.auth(apikey.ScopeRead, s.batchResults))
	s.mux.Handle("POST /v1/webhooks/replay", quick(apikey.ScopeAdmin, s.replayWebhooks))
	s.mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "", "Redis is not reachable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	if s.cfg.Monitoring != nil {
		s.mux.Handle("/monitoring/", s.auth(apikey.ScopeRead, func(w http.ResponseWriter, r *http.Request) {
			if s.cfg.MonitoringAdmin != nil && KeyFrom(r.Context()).Has(apikey.ScopeAdmin) {
				s.cfg.MonitoringAdmin.ServeHTTP(w, r)
				return
			}
			s.cfg.Monitoring.ServeHTTP(w, r)
		}))
		s.mux.HandleFunc("GET /login", s.loginPage)
		s.mux.HandleFunc("POST /login", s.login)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "no such route; see /openapi.json")
	})
}

type ctxKey struct{}

// KeyFrom returns the API key that authenticated the request.
func KeyFrom(ctx context.Context) *apikey.Key {
	k, _ := ctx.Value(ctxKey{}).(*apikey.Key)
	return k
}

// auth admits requests whose bearer token is a live key with scope. A
// browser opening the dashboard may give the token as a "realname_key"
// cookie instead.
func (s *Server) auth(scope apikey.Scope, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			if c, err := r.Cookie("realname_key"); err == nil {
				token, ok = c.Value, true
			}
		}
		if (!ok || token == "") && strings.HasPrefix(r.URL.Path, "/monitoring") && strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A person opening the dashboard: ask for the key.
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="realname"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "", "an API key is required: Authorization: Bearer rn_…")
			return
		}
		key, err := s.keys.Authenticate(r.Context(), token)
		switch {
		case errors.Is(err, apikey.ErrInvalid), errors.Is(err, apikey.ErrRevoked):
			w.Header().Set("WWW-Authenticate", `Bearer realm="realname", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "", "the API key is invalid or revoked")
			return
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "unavailable", "", "cannot check the API key now")
			return
		}
		if !key.Has(scope) {
			writeError(w, http.StatusForbidden, "forbidden", "", fmt.Sprintf("this API key lacks the %s scope", scope))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, key)))
	})
}

// Error is the JSON body of every error answer.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error: a stable code, the field at fault (if
// one), a message, and every field error for invalid input.
type ErrorDetail struct {
	Code    string       `json:"code"`
	Field   string       `json:"field,omitempty"`
	Message string       `json:"message"`
	Fields  []FieldIssue `json:"fields,omitempty"`
}

// FieldIssue is one invalid field.
type FieldIssue struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	writeJSON(w, status, Error{Error: ErrorDetail{Code: code, Field: field, Message: msg}})
}

// writeInvalid answers a validation error with every field named.
func writeInvalid(w http.ResponseWriter, err error) {
	var issues []FieldIssue
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *identity.FieldError
		if errors.As(e, &fe) {
			issues = append(issues, FieldIssue{Field: fe.Field, Message: fe.Reason})
		}
	}
	walk(err)
	d := ErrorDetail{Code: "invalid_field", Message: err.Error(), Fields: issues}
	if len(issues) > 0 {
		d.Field = issues[0].Field
	}
	writeJSON(w, http.StatusUnprocessableEntity, Error{Error: d})
}

// decodeBody reads a JSON body of at most MaxBodyBytes into v.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "", "the body must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "", fmt.Sprintf("the body is over %d bytes", s.cfg.MaxBodyBytes))
			return false
		}
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			writeError(w, http.StatusBadRequest, "invalid_json", ute.Field, "the field must be a string")
			return false
		}
		// An unknown field's name is not echoed: a caller's mistake can put
		// data where a name belongs.
		msg := "the body is not a JSON object of the documented shape"
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			msg = "the body has a field that is not documented"
		}
		writeError(w, http.StatusBadRequest, "invalid_json", "", msg)
		return false
	}
	// One JSON value, nothing after it.
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid_json", "", "the body has data after its JSON object")
		return false
	}
	return true
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush implements http.Flusher for streamed answers.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Run serves the API on addr until ctx ends, then shuts down: it stops
// accepting connections and lets requests in flight finish for up to 30s.
// Every connection has read, write and idle timeouts; uploads and exports
// lift theirs per request.
func (s *Server) Run(ctx context.Context, addr string) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout,
		WriteTimeout:      s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("httpapi: listen on %s: %w", addr, err)
	}
	s.cfg.Logger.Info().Str("addr", ln.Addr().String()).Msg("api listening")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("httpapi: shutdown: %w", err)
	}
	s.cfg.Logger.Info().Msg("api stopped")
	return nil
}
