// Package sandbox is a fake real-name verification provider (实名认证) that
// speaks three protocols on one port: Tencent Cloud's legacy v2 gateway,
// Tencent Cloud API 3.0 (product faceid) and Alibaba Cloud's RPC API
// (product cloudauth). The demo, the tests and the benchmarks run against it
// instead of the paid services, without credentials.
//
// Routes:
//
//   - /v2/index.php, GET with a query string or POST with a form body:
//     Tencent v2 (provider "tencent-v2"), actions BspIdCardAuth,
//     BspMobileAuth3, BspBankCard3Auth and BspBankCardAuth4.
//   - POST / with an X-TC-Action header (or a JSON body): Tencent API 3.0
//     (provider "tencent-v3", version 2018-03-01), actions
//     IdCardVerification, PhoneVerification, BankCardVerification and
//     BankCard4EVerification. The real endpoint is
//     https://faceid.tencentcloudapi.com/.
//   - GET / with a query carrying AccessKeyId, or any other POST / (a form
//     body): Alibaba Cloud RPC (provider "aliyun", version 2019-03-07),
//     actions Id2MetaVerify, Mobile3MetaSimpleVerify,
//     Mobile3MetaDetailVerify and BankMetaVerify. The real endpoint is
//     https://cloudauth.aliyuncs.com/.
//   - GET /sandbox/stats, POST /sandbox/reset, and GET or POST
//     /sandbox/outage?provider=NAME&on=true|false: administration.
//
// Both real providers serve at "/", so a client points its endpoint at
// http://127.0.0.1:PORT/ with no path of its own. Everything else is 404.
//
// Each protocol verifies request signatures with the sandbox's own
// implementation of its signing rules (v2 HMAC, TC3-HMAC-SHA256, RPC
// signature 1.0), written from the specs and shared with no client, so that a
// bug in a client's signer shows up as a signature failure instead of being
// mirrored. Each refuses requests the way its real gateway does.
//
// Answers come from one source for every protocol: the fixture of known
// identities, else the deterministic rule Expected, give a v2 authCode per
// (kind, identity), where the v2 action names the kind; Tencent v3 and
// Alibaba Cloud translate it into their own codes (TranslateTencentV3,
// TranslateAliyun), so the same identity means the same thing whichever
// protocol asks.
//
// The sandbox can inject the failures a real provider has (latency, HTTP
// 5xx, dropped connections, answers that never arrive, transient error
// codes), reproducibly from a seed, per provider (Config.Faults,
// Config.TencentV3Faults, Config.AliyunFaults); enforce the providers'
// documented per-action rate quotas (Config.Quotas); and switch a provider
// off at run time (SetOutage). Stats counts what a bill would, per provider:
// calls, billed calls by each provider's billing rules, the peak rate, and
// double billing (a v2 orderNo billed twice, an identity billed twice by one
// provider, an identity billed by more than one provider).
//
// The sandbox never logs names, ID numbers, mobile or card numbers: only the
// provider, the action, the v2 orderNo and the codes answered.
package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdlog "log"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/identity"
)

// The providers the sandbox imitates, as Stats, SetOutage, Config.Quotas and
// the /sandbox/outage route name them.
const (
	ProviderTencentV2 = "tencent-v2"
	ProviderTencentV3 = "tencent-v3"
	ProviderAliyun    = "aliyun"
)

// provider indexes the per-provider state.
type provider uint8

const (
	provTencentV2 provider = iota
	provTencentV3
	provAliyun
	numProviders
)

var providerNames = [numProviders]string{ProviderTencentV2, ProviderTencentV3, ProviderAliyun}

func (p provider) String() string { return providerNames[p] }

func providerByName(name string) (provider, bool) {
	for i, n := range providerNames {
		if n == name {
			return provider(i), true
		}
	}
	return 0, false
}

// Config configures a Server.
type Config struct {
	// Credentials maps each accepted SecretId to its SecretKey. The same
	// pairs serve as Tencent v2 and v3 SecretId/SecretKey and as Alibaba
	// Cloud AccessKeyId/AccessKeySecret. Required: New fails when it is
	// empty or holds an empty SecretId or SecretKey.
	Credentials map[string]string
	// Fixture holds known identities and their scripted answers. Defaults
	// to nil: every identity is answered by Expected.
	Fixture *Fixture
	// Faults injects failures into Tencent v2 calls. The zero value
	// injects none.
	Faults Faults
	// TencentV3Faults injects failures into Tencent API 3.0 calls; its
	// APICodes are Error.Code values. The zero value injects none.
	TencentV3Faults Faults
	// AliyunFaults injects failures into Alibaba Cloud calls; its APICodes
	// are gateway codes (HTTP 5xx) or three-digit service codes (HTTP 200).
	// The zero value injects none.
	AliyunFaults Faults
	// Quotas are the per-action rate limits of Tencent v3 and Alibaba
	// Cloud. The zero value enforces none.
	Quotas Quotas
	// Outages lists the providers that start switched off (see
	// SetOutage). Defaults to none.
	Outages []string
	// ReplayWindow is, for Tencent v2 only, both the largest allowed
	// difference between a request's Timestamp and the sandbox's clock and
	// how long a Nonce is remembered. Defaults to 2h, the real gateway's.
	// Tencent v3 allows 5 minutes and Alibaba Cloud 15, as theirs do.
	ReplayWindow time.Duration
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// when its context ends. Defaults to 5s.
	ShutdownTimeout time.Duration
	// Now is the sandbox's clock, for Timestamp checks, Nonce expiry and the
	// quotas. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one debug line per call (provider, action, orderNo,
	// codes, fault) and the start line of Serve. Defaults to the zero
	// Logger, which discards everything.
	Logger zerolog.Logger
}

// Server is the fake provider; it implements http.Handler and is safe for
// concurrent use.
type Server struct {
	creds           map[string]string
	fixture         *Fixture
	faults          [numProviders]Faults
	window          time.Duration
	shutdownTimeout time.Duration
	now             func() time.Time
	log             zerolog.Logger
	quotasOn        bool

	// outage is read without mu, before a request's body is.
	outage [numProviders]atomic.Bool
	// inFlight is Stats.InFlight.
	inFlight atomic.Int64

	// release is closed when Serve shuts down, so that answers held by the
	// timeout fault give up instead of delaying the shutdown.
	release     chan struct{}
	releaseOnce sync.Once

	mu        sync.Mutex
	nonces    nonceCache // Tencent v2
	rpcNonces nonceCache // Alibaba Cloud
	// quotas holds a sliding window per limited action, by provider.
	quotas [numProviders]map[string]*slidingWindow
	prov   [numProviders]providerRun
	// peak gives the total MaxPerSecond.
	peak slidingPeak
	// orders is keyed by the FNV-64a hash of a v2 orderNo, or of a
	// provider and an identity key for the protocols without one: 8 bytes
	// a key instead of the string keeps a million orders to a few tens of
	// MB; a collision among a million orders has a probability around
	// 1e-8.
	orders map[uint64]orderState
	meter  meter
}

// providerRun is the mutable per-provider state, guarded by Server.mu.
type providerRun struct {
	quota *slidingWindow // Faults.QuotaRPS; nil: none
	peak  slidingPeak    // MaxPerSecond
	stats ProviderStats
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
	s := &Server{
		creds:           maps.Clone(cfg.Credentials),
		fixture:         cfg.Fixture,
		window:          cfg.ReplayWindow,
		shutdownTimeout: cfg.ShutdownTimeout,
		now:             cfg.Now,
		log:             cfg.Logger,
		release:         make(chan struct{}),
		nonces:          newNonceCache(cfg.ReplayWindow, cfg.Now()),
		rpcNonces:       newNonceCache(rpcWindow, cfg.Now()),
		orders:          make(map[uint64]orderState),
		meter:           newMeter(),
	}
	for p, f := range [numProviders]Faults{cfg.Faults, cfg.TencentV3Faults, cfg.AliyunFaults} {
		f.TimeoutHold = cmp.Or(f.TimeoutHold, 30*time.Second)
		f.Codes = slices.Clone(f.Codes)
		f.APICodes = slices.Clone(f.APICodes)
		if err := f.validate(provider(p)); err != nil {
			if p == int(provTencentV2) {
				return nil, fmt.Errorf("sandbox: %w", err)
			}
			return nil, fmt.Errorf("sandbox: %s %w", provider(p), err)
		}
		s.faults[p] = f
	}
	quotas, err := cfg.Quotas.resolve()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.quotasOn = cfg.Quotas.Enabled
	for p, limits := range quotas {
		for action, n := range limits {
			if s.quotas[p] == nil {
				s.quotas[p] = make(map[string]*slidingWindow)
			}
			s.quotas[p][action] = newSlidingWindow(n)
		}
	}
	for _, name := range cfg.Outages {
		p, ok := providerByName(name)
		if !ok {
			return nil, fmt.Errorf("sandbox: Outages: unknown provider %q", truncate(name, 40))
		}
		s.outage[p].Store(true)
	}
	for p := range s.prov {
		s.prov[p].stats = newProviderStats()
	}
	return s, nil
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := newStats()
	st.OrderNoReused = s.meter.orderNoReused
	st.BilledByMoreThanOneProvider = s.meter.crossBilled
	st.MaxPerSecond = s.meter.maxPerSecond
	st.InFlight = s.inFlight.Load()
	for p := range s.prov {
		ps := s.prov[p].stats.clone()
		st.Providers[provider(p).String()] = ps
		st.Calls += ps.Calls
		st.Billed += ps.Billed
		st.QuotaRefused += ps.QuotaRefused
		st.OutageRefused += ps.OutageRefused
		for k, v := range ps.ByAction {
			st.ByAction[k] += v
		}
		for k, v := range ps.ByAnswer {
			st.ByAnswer[k] += v
		}
	}
	return st
}

// ResetStats zeroes the counters and forgets the orderNos and identities
// seen, both for the double-billing counters and for the attempt counts that
// fault decisions depend on, so a rerun after ResetStats meets the same
// faults. It keeps the remembered Nonces (they guard against replay, they do
// not count anything), the quota windows and the outage switches.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders = make(map[uint64]orderState)
	s.meter = newMeter()
	s.peak = slidingPeak{}
	for p := range s.prov {
		s.prov[p].stats = newProviderStats()
		s.prov[p].peak = slidingPeak{}
	}
}

// SetOutage switches the provider name names off (on is true) or back on. While it is off,
// every call to it is answered HTTP 503 at once, before its body is read;
// such calls are counted (OutageRefused) but never billed. It returns an
// error for an unknown provider name.
func (s *Server) SetOutage(name string, on bool) error {
	p, ok := providerByName(name)
	if !ok {
		return fmt.Errorf("sandbox: unknown provider %q", truncate(name, 40))
	}
	s.outage[p].Store(on)
	s.log.Info().Str("provider", name).Bool("outage", on).Msg("sandbox outage switched")
	return nil
}

// Outages reports, for every provider name, whether it is switched off.
func (s *Server) Outages() map[string]bool {
	m := make(map[string]bool, numProviders)
	for p := range s.outage {
		m[provider(p).String()] = s.outage[p].Load()
	}
	return m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case apiPath:
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			methodNotAllowed(w, "GET, POST")
			return
		}
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		if s.refuseOutage(w, r, provTencentV2) {
			return
		}
		s.serveAPI(w, r)
	case "/":
		p, ok := routeRoot(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.NotFound(w, r)
				return
			}
			methodNotAllowed(w, "GET, POST")
			return
		}
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		if s.refuseOutage(w, r, p) {
			return
		}
		if p == provTencentV3 {
			s.serveTC3(w, r)
		} else {
			s.serveRPC(w, r)
		}
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
	case "/sandbox/outage":
		s.serveOutage(w, r)
	default:
		http.NotFound(w, r)
	}
}

// routeRoot picks the protocol of a request to "/": Tencent API 3.0 for a
// POST with an X-TC-Action header or a JSON body, Alibaba Cloud for any other
// POST (a form body) and for a GET whose query carries AccessKeyId. It looks
// only at the method, the headers and the query, never at the body, so an
// outage can answer before the body is read.
func routeRoot(r *http.Request) (provider, bool) {
	switch r.Method {
	case http.MethodPost:
		if r.Header.Get(headerTCAction) != "" || isJSON(r.Header.Get("Content-Type")) {
			return provTencentV3, true
		}
		return provAliyun, true
	case http.MethodGet:
		if r.URL.Query().Has(rpcAccessKeyID) {
			return provAliyun, true
		}
	}
	return 0, false
}

// refuseOutage answers 503 and reports true when p is switched off.
func (s *Server) refuseOutage(w http.ResponseWriter, r *http.Request, p provider) bool {
	if !s.outage[p].Load() {
		return false
	}
	s.mu.Lock()
	s.prov[p].stats.OutageRefused++
	s.count(p, "", answerOutage)
	s.mu.Unlock()
	s.log.Debug().Str("provider", p.String()).Msg("sandbox call refused: outage")
	// The body is left unread: net/http closes the connection if it
	// cannot drain it cheaply.
	w.Header().Set("Connection", "close")
	switch p {
	case provAliyun:
		writeRPCGatewayError(w, r.Host, rpcErr{status: http.StatusServiceUnavailable, code: "ServiceUnavailable",
			message: "The request has failed due to a temporary failure of the server. (sandbox: provider switched off)"})
	default:
		write5xx(w, http.StatusServiceUnavailable, "stgw")
	}
	return true
}

// serveOutage is /sandbox/outage: GET lists the switches; POST with
// provider=NAME and on=true|false (query or form) sets one, then lists them.
func (s *Server) serveOutage(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, "sandbox: malformed query or form", http.StatusBadRequest)
			return
		}
		name := r.Form.Get("provider")
		if _, ok := providerByName(name); !ok {
			http.Error(w, fmt.Sprintf("sandbox: provider must be one of %v", providerNames), http.StatusBadRequest)
			return
		}
		on, err := strconv.ParseBool(r.Form.Get("on"))
		if err != nil {
			http.Error(w, "sandbox: on must be true or false", http.StatusBadRequest)
			return
		}
		if err := s.SetOutage(name, on); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		methodNotAllowed(w, "GET, HEAD, POST")
		return
	}
	writeJSON(w, http.StatusOK, s.Outages())
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
}

// deliver carries out a decision: it waits out the delay, then drops the
// connection, answers an HTTP 5xx page (with the load balancer's name in its
// footer), an injected error (fault), or the answer, held first for the
// timeout fault.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, p provider, d decision, lb string, fault, answer func()) {
	ctx := r.Context()
	if !wait(ctx, d.delay, nil) {
		abort(w)
		return
	}
	switch d.kind {
	case faultDrop:
		abort(w)
	case fault5xx:
		write5xx(w, d.status, lb)
	case faultCode:
		fault()
	case faultTimeout:
		if !wait(ctx, s.faults[p].TimeoutHold, s.release) {
			abort(w)
			return
		}
		answer()
	default:
		answer()
	}
}

// answer returns the v2 authCode for a valid request of the kind action (a
// v2 action) names: "12" for a bank card failing the Luhn check, else the
// fixture's answer, else Expected. Every protocol starts from it.
func (s *Server) answer(action string, p Params) string {
	if _, card := actionUses(action); card && !identity.LuhnValid(p.BankCard) {
		return "12"
	}
	if code, ok := s.fixture.Lookup(action, p); ok {
		return code
	}
	return Expected(action, p)
}

// settleCall describes an admitted, valid call for settle.
type settleCall struct {
	// faultKey seeds the fault decision with the attempt count: the v2
	// orderNo, or the provider and identity key of the other protocols.
	faultKey string
	// orderNo is set when faultKey is a v2 orderNo, for OrderNoReused.
	orderNo bool
	// identity is the meter's key of the identity checked.
	identity uint64
	// answerKey is the Stats.ByAnswer key of the business answer.
	answerKey string
	// billed reports whether the provider bills the business answer.
	billed bool
}

// settle decides the fate of an admitted, valid call and books it: a
// business answer is billed when the provider bills its code, and so is one
// held by the timeout fault; drops, HTTP 5xx and injected codes are not.
func (s *Server) settle(p provider, action string, c settleCall) decision {
	okey := hashString(c.faultKey)

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.orders[okey]
	d := s.faults[p].decide(c.faultKey, uint64(st.attempts))
	st.attempts++
	key, billed := c.answerKey, false
	switch d.kind {
	case faultNone:
		billed = c.billed
	case faultTimeout:
		key, billed = answerTimeout, c.billed
	case faultDrop:
		key = answerDrop
	case fault5xx:
		key = httpKey(d.status)
	case faultCode:
		key = d.key
	}
	if billed {
		if c.orderNo {
			if st.billed {
				s.meter.orderNoReused++
			}
			st.billed = true
		}
		s.bill(p, c.identity)
	}
	s.orders[okey] = st
	s.count(p, action, key)
	return d
}

// count books one call; s.mu must be held. Only known actions are counted
// by action.
func (s *Server) count(p provider, action, answerKey string) {
	ps := &s.prov[p].stats
	ps.Calls++
	if knownAction(p, action) {
		ps.ByAction[action]++
	}
	ps.ByAnswer[answerKey]++
}

func knownAction(p provider, action string) bool {
	switch p {
	case provTencentV2:
		return actionIndex(action) >= 0
	case provTencentV3:
		_, ok := tc3Kinds[action]
		return ok
	case provAliyun:
		_, ok := rpcActions[action]
		return ok
	}
	return false
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

// write5xx answers like the load balancer in front of the gateway (lb names
// it in the footer: stgw for Tencent, Tengine for Alibaba Cloud): an HTML
// error page, not JSON.
func write5xx(w http.ResponseWriter, status int, lb string) {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>%s</center>\r\n</body>\r\n</html>\r\n", text, text, lb)
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

// routes lists the served routes, for the start line.
var routes = []string{
	"GET|POST /v2/index.php (" + ProviderTencentV2 + ")",
	"POST / + X-TC-Action (" + ProviderTencentV3 + ")",
	"GET / ?AccessKeyId= | POST / form (" + ProviderAliyun + ")",
	"GET /sandbox/stats",
	"POST /sandbox/reset",
	"GET|POST /sandbox/outage?provider=&on=",
}

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully and
// returns nil. It logs one line at start with the address and the routes
// (never a SecretKey). Shutdown order: first answers held by the timeout
// fault are released, their connections closed without an answer, since they
// would otherwise hold the shutdown for TimeoutHold; then the listener closes
// and requests in flight finish, for up to ShutdownTimeout; then any
// remaining connection is closed. The timeout fault no longer holds answers
// once Serve has begun shutting down.
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
	var outages []string
	for name, on := range s.Outages() {
		if on {
			outages = append(outages, name)
		}
	}
	slices.Sort(outages)
	f := s.faults[provTencentV2]
	s.log.Info().
		Str("addr", ln.Addr().String()).
		Strs("routes", routes).
		Strs("secret_ids", ids).
		Int("fixture_identities", s.fixture.Len()).
		Str("replay_window", s.window.String()).
		Int64("seed", f.Seed).
		Stringer("latency", f.Latency).
		Float64("fault_5xx", f.HTTP5xxRate).
		Float64("fault_drop", f.DropRate).
		Float64("fault_timeout", f.TimeoutRate).
		Float64("fault_code", f.CodeRate).
		Ints("fault_codes", f.faultCodes()).
		Strs("fault_codes_tencent_v3", s.faults[provTencentV3].apiCodes(provTencentV3)).
		Strs("fault_codes_aliyun", s.faults[provAliyun].apiCodes(provAliyun)).
		Int("quota_rps", f.QuotaRPS).
		Bool("quotas", s.quotasOn).
		Strs("outages", outages).
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
