// Package sandbox is a fake Tencent Cloud 实名认证 (real-name verification)
// v2 gateway. The demo, the tests and the benchmarks run against it instead of
// the paid service, without credentials.
//
// It verifies request signatures with its own implementation of the v2
// signing rules, written from the spec and not shared with the client, so
// that a bug in the client's signer shows up as 4100 instead of being
// mirrored. It refuses requests the way the real gateway does (4000, 4100,
// 4104, 4500, 4400), answers the four actions from a fixture of known
// identities or from a deterministic rule (Expected), and can inject the
// failures a real provider has (latency, HTTP 5xx, dropped connections,
// answers that never arrive, transient gateway codes, a rate quota), all
// reproducible from a seed. Stats counts what a bill would: calls, billed
// calls, reused order numbers and the peak rate.
//
// Endpoints: /v2/index.php (GET with a query string, or POST with a form
// body), GET /sandbox/stats and POST /sandbox/reset. Everything else is 404.
//
// The sandbox never logs names, ID numbers, mobile or card numbers: only the
// action, the orderNo, the gateway code and the authCode.
package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	stdlog "log"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/identity"
)

// Config configures a Server.
type Config struct {
	// Credentials maps each accepted SecretId to its SecretKey. Required:
	// New fails when it is empty or holds an empty SecretId or SecretKey.
	Credentials map[string]string
	// Fixture holds known identities and their scripted answers. Defaults
	// to nil: every identity is answered by Expected.
	Fixture *Fixture
	// Faults injects failures. The zero value injects none.
	Faults Faults
	// ReplayWindow is both the largest allowed difference between a
	// request's Timestamp and the sandbox's clock and how long a Nonce is
	// remembered. Defaults to 2h, the real gateway's.
	ReplayWindow time.Duration
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// when its context ends. Defaults to 5s.
	ShutdownTimeout time.Duration
	// Now is the sandbox's clock, for Timestamp checks, Nonce expiry and the
	// per-second quota. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one debug line per call (action, orderNo, code,
	// authCode, fault) and the start line of Serve. Defaults to the zero
	// Logger, which discards everything.
	Logger zerolog.Logger
}

// Server is the fake gateway; it implements http.Handler and is safe for
// concurrent use.
type Server struct {
	creds           map[string]string
	fixture         *Fixture
	faults          Faults
	window          time.Duration
	shutdownTimeout time.Duration
	now             func() time.Time
	log             zerolog.Logger

	// release is closed when Serve shuts down, so that answers held by the
	// timeout fault give up instead of delaying the shutdown.
	release     chan struct{}
	releaseOnce sync.Once

	mu         sync.Mutex
	nonces     nonceCache
	quotaSec   int64 // the wall-clock second quotaCount counts
	quotaCount int
	peakSec    int64 // the wall-clock second peakCount counts
	peakCount  int64
	// orders is keyed by the FNV-64a hash of an orderNo: 8 bytes a key
	// instead of the string keeps a million orders to a few tens of MB; a
	// collision among a million orders has a probability around 1e-8.
	orders map[uint64]orderState
	stats  Stats
}

// orderState is what the sandbox remembers of an orderNo.
type orderState struct {
	attempts uint32 // calls that reached the fault decision
	billed   bool
}

// New returns a Server for cfg, or an error when cfg is invalid.
func New(cfg Config) (*Server, error) {
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("sandbox: Credentials is empty")
	}
	for id, key := range cfg.Credentials {
		if id == "" || key == "" {
			return nil, errors.New("sandbox: Credentials holds an empty SecretId or SecretKey")
		}
	}
	cfg.ReplayWindow = cmp.Or(cfg.ReplayWindow, 2*time.Hour)
	if cfg.ReplayWindow < 0 {
		return nil, errors.New("sandbox: ReplayWindow must not be negative")
	}
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, 5*time.Second)
	if cfg.ShutdownTimeout < 0 {
		return nil, errors.New("sandbox: ShutdownTimeout must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	faults := cfg.Faults
	faults.TimeoutHold = cmp.Or(faults.TimeoutHold, 30*time.Second)
	faults.Codes = slices.Clone(faults.Codes)
	if err := faults.validate(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return &Server{
		creds:           maps.Clone(cfg.Credentials),
		fixture:         cfg.Fixture,
		faults:          faults,
		window:          cfg.ReplayWindow,
		shutdownTimeout: cfg.ShutdownTimeout,
		now:             cfg.Now,
		log:             cfg.Logger,
		release:         make(chan struct{}),
		nonces:          newNonceCache(cfg.ReplayWindow, cfg.Now()),
		orders:          make(map[uint64]orderState),
		stats:           newStats(),
	}, nil
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.clone()
}

// ResetStats zeroes the counters and forgets the orderNos seen, both for
// OrderNoReused and for the per-orderNo attempt counts that fault decisions
// depend on, so a rerun after ResetStats meets the same faults. It keeps the
// remembered Nonces: they guard against replay, they do not count anything.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
	s.orders = make(map[uint64]orderState)
	s.peakCount = 0
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case apiPath:
		s.serveAPI(w, r)
	case "/sandbox/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
	case "/sandbox/reset":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
}

// serveAPI answers one gateway call. The checks run in the real gateway's
// order: common parameters, SecretId, signature, Timestamp, Nonce, quota,
// Action, business parameters; only then are faults decided.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	params, gerr := readParams(w, r)
	action := params[paramAction]
	if gerr == nil {
		gerr = s.admit(r, params)
	}
	if gerr == nil && actionIndex(action) < 0 {
		gerr = gwErr(4000, "(100003) 不支持的 Action (Action not supported: %q)", truncate(action, 40))
	}
	var (
		orderNo string
		p       Params
	)
	if gerr == nil {
		orderNo, p, gerr = parseBusiness(action, params)
	}
	if gerr != nil {
		s.mu.Lock()
		s.count(action, codeKey(gerr.code))
		s.mu.Unlock()
		s.log.Debug().Str("action", truncate(action, 40)).Str("order_no", truncate(params[paramOrderNo], maxOrderNoBytes)).
			Int("code", gerr.code).Msg("sandbox call refused")
		writeGatewayError(w, gerr)
		return
	}

	authCode := s.answer(action, p)
	d := s.settle(action, orderNo, authCode)
	ev := s.log.Debug().Str("action", action).Str("order_no", orderNo).Str("fault", d.kind.String())
	switch d.kind {
	case faultNone, faultTimeout:
		ev = ev.Int("code", 0).Str("auth_code", authCode)
	case faultCode:
		ev = ev.Int("code", d.code)
	case fault5xx:
		ev = ev.Int("http_status", d.status)
	}
	ev.Dur("delay", d.delay).Msg("sandbox call")

	ctx := r.Context()
	if !wait(ctx, d.delay, nil) {
		abort(w)
		return
	}
	switch d.kind {
	case faultDrop:
		abort(w)
	case fault5xx:
		write5xx(w, d.status)
	case faultCode:
		writeGatewayError(w, gwDefault(d.code))
	case faultTimeout:
		if !wait(ctx, s.faults.TimeoutHold, s.release) {
			abort(w)
			return
		}
		writeAnswer(w, authCode)
	default:
		writeAnswer(w, authCode)
	}
}

// admit runs the checks that come before the Action is looked at: common
// parameters, SecretId, signature, Timestamp, Nonce and quota.
func (s *Server) admit(r *http.Request, params map[string]string) *gatewayError {
	c, gerr := parseCommon(params)
	if gerr != nil {
		return gerr
	}
	key, ok := s.creds[c.secretID]
	if !ok {
		return gwDefault(4104)
	}
	src := stringToSign(r.Method, r.Host, r.URL.Path, params)
	if !signatureValid(c.sigMethod, key, src, c.signature) {
		return gwDefault(4100)
	}
	now := s.now()
	if !timestampFresh(c.timestamp, now, s.window) {
		return gwErr(4500, "重放攻击错误：Timestamp 与服务器时间相差超过 %s (replay: Timestamp more than %s from the server's clock)", s.window, s.window)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonces.use(nonceKey{c.secretID, c.nonce}, now) {
		return gwErr(4500, "重放攻击错误：Nonce 参数两次请求不能重复 (replay: Nonce already used with this SecretId)")
	}
	sec := now.Unix()
	if sec != s.quotaSec {
		s.quotaSec, s.quotaCount = sec, 0
	}
	if s.faults.QuotaRPS > 0 && s.quotaCount >= s.faults.QuotaRPS {
		s.stats.QuotaRefused++
		return gwErr(4400, "请求频率超过配额限制 (RequestLimitExceeded: over %d requests per second)", s.faults.QuotaRPS)
	}
	s.quotaCount++
	if sec != s.peakSec {
		s.peakSec, s.peakCount = sec, 0
	}
	s.peakCount++
	s.stats.MaxPerSecond = max(s.stats.MaxPerSecond, s.peakCount)
	return nil
}

// timestampFresh reports whether ts (Unix seconds) is within window of now.
func timestampFresh(ts uint64, now time.Time, window time.Duration) bool {
	const maxInt64 = 1<<63 - 1
	if ts > maxInt64 {
		return false
	}
	d := now.Unix() - int64(ts)
	if d < 0 {
		d = -d
	}
	return d <= int64(window/time.Second)
}

// answer returns the business answer for a valid request: "12" for a bank
// card failing the Luhn check, else the fixture's answer, else Expected.
func (s *Server) answer(action string, p Params) string {
	if _, card := actionUses(action); card && !identity.LuhnValid(p.BankCard) {
		return "12"
	}
	if code, ok := s.fixture.Lookup(action, p); ok {
		return code
	}
	return Expected(action, p)
}

// settle decides the fate of an admitted, valid call and books it.
func (s *Server) settle(action, orderNo, authCode string) decision {
	h := fnv.New64a()
	h.Write([]byte(orderNo))
	okey := h.Sum64()

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.orders[okey]
	d := s.faults.decide(orderNo, uint64(st.attempts))
	st.attempts++
	key, billed := authCode, false
	switch d.kind {
	case faultNone:
		billed = true
	case faultTimeout:
		key, billed = "timeout", true
	case faultDrop:
		key = "drop"
	case fault5xx:
		key = httpKey(d.status)
	case faultCode:
		key = codeKey(d.code)
	}
	if billed {
		if st.billed {
			s.stats.OrderNoReused++
		}
		st.billed = true
		s.stats.Billed++
	}
	s.orders[okey] = st
	s.count(action, key)
	return d
}

// count books one call; s.mu must be held.
func (s *Server) count(action, answerKey string) {
	s.stats.Calls++
	if actionIndex(action) >= 0 {
		s.stats.ByAction[action]++
	}
	s.stats.ByAnswer[answerKey]++
}

// wait sleeps for d, and reports false when ctx ends or release is closed
// first.
func wait(ctx context.Context, d time.Duration, release <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-release:
		return false
	}
}

// abort closes the connection without an answer.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 or a recorder: ErrAbortHandler makes net/http reset the
		// stream without logging.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

type response struct {
	Code       int         `json:"code"`
	CodeDesc   string      `json:"codeDesc"`
	Message    string      `json:"message"`
	BspFivBody *bspFivBody `json:"bspFivBody,omitempty"`
}

type bspFivBody struct {
	AuthCode    string `json:"authCode"`
	AuthMessage string `json:"authMessage"`
}

func writeAnswer(w http.ResponseWriter, authCode string) {
	writeJSON(w, http.StatusOK, response{
		Code:       0,
		CodeDesc:   "Success",
		Message:    "No Error",
		BspFivBody: &bspFivBody{AuthCode: authCode, AuthMessage: AuthMessage(authCode)},
	})
}

// writeGatewayError answers a gateway error with HTTP 200, as the v2 gateway
// does.
func writeGatewayError(w http.ResponseWriter, e *gatewayError) {
	writeJSON(w, http.StatusOK, response{Code: e.code, CodeDesc: codeDesc(e.code), Message: e.message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "sandbox: encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// write5xx answers like the load balancer in front of the gateway: an HTML
// error page, not JSON.
func write5xx(w http.ResponseWriter, status int) {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n", text, text)
}

func (s *Server) faultCodes() []int {
	if len(s.faults.Codes) == 0 {
		return defaultFaultCodes
	}
	return s.faults.Codes
}

// ListenAndServe listens on the TCP address addr and serves until ctx ends;
// see Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully and
// returns nil. It logs one line at start with the address (never a
// SecretKey). Shutdown order: first answers held by the timeout fault are
// released, their connections closed without an answer, since they would
// otherwise hold the shutdown for TimeoutHold; then the listener closes and
// requests in flight finish, for up to ShutdownTimeout; then any remaining
// connection is closed. The timeout fault no longer holds answers once Serve
// has begun shutting down.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(s.log.With().Str("component", "http").Logger(), "", 0),
	}
	ids := slices.Sorted(maps.Keys(s.creds))
	s.log.Info().
		Str("addr", ln.Addr().String()).
		Strs("secret_ids", ids).
		Int("fixture_identities", s.fixture.Len()).
		Str("replay_window", s.window.String()).
		Int64("seed", s.faults.Seed).
		Stringer("latency", s.faults.Latency).
		Float64("fault_5xx", s.faults.HTTP5xxRate).
		Float64("fault_drop", s.faults.DropRate).
		Float64("fault_timeout", s.faults.TimeoutRate).
		Float64("fault_code", s.faults.CodeRate).
		Ints("fault_codes", s.faultCodes()).
		Int("quota_rps", s.faults.QuotaRPS).
		Msg("sandbox listening")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sandbox: serve: %w", err)
	case <-ctx.Done():
	}
	s.releaseOnce.Do(func() { close(s.release) })
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("sandbox: shutdown: %w", err)
	}
	<-errc // http.ErrServerClosed
	s.log.Info().Msg("sandbox stopped")
	return err
}
