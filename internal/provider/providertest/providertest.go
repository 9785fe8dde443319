// Package providertest is the conformance suite every provider.Provider
// implementation passes against the sandbox, over real HTTP on loopback, as
// River's riverdrivertest is for its drivers and internal/store/storetest for
// the stores.
//
// The suite holds each implementation to what the worker relies on and
// nothing more: the class of every answer is the one the sandbox's fixture
// scripts (the meaning of its v2 authCode, whichever protocol carries it),
// the billing an answer or error claims is the one the sandbox's meter
// books, refusals, throttling, outages and faults get the classes the worker
// acts on, and no call is billed twice. What differs between providers by
// design (how far off a clock may be, and what the refusal says) is in
// Config.
package providertest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/sandbox"
)

// The credentials the sandbox of every subtest accepts.
const (
	SecretID  = "AKIDprovidertest"
	SecretKey = "providertest-secret-key"
)

// ClientOpts are the client settings the suite varies. New passes them on to
// the implementation's own configuration.
type ClientOpts struct {
	// SecretID identifies the key: SecretId, or AccessKeyId.
	SecretID string
	// SecretKey signs requests: SecretKey, or AccessKeySecret.
	SecretKey string
	// Now is the client's clock. Nil means the client's default, time.Now.
	Now func() time.Time
	// Timeout bounds one HTTP attempt. Zero means the client's default.
	Timeout time.Duration
}

// Config describes the implementation under test and what it is expected to
// do where providers differ by design.
type Config struct {
	// Name is the provider's name: what Provider.Name and every
	// Answer.Provider say, and how the sandbox names it (Stats().Providers,
	// SetOutage, faults, quotas). Required.
	Name string
	// Path is the endpoint's path on the sandbox: tencentv2.DefaultPath for
	// v2, "/" for Tencent API 3.0 and Alibaba Cloud. Defaults to "/".
	Path string
	// New returns the provider under test, calling endpoint with opts. It
	// fails t rather than return an error. Required.
	New func(t testing.TB, endpoint string, opts ClientOpts) provider.Provider
	// ClockOffset is how far off the suite sets the client's clock, both
	// behind and ahead, to have its requests refused as stale. It must
	// exceed the provider's allowed window (v2 2h, v3 5min, Alibaba Cloud
	// 15min). Defaults to 1h.
	ClockOffset time.Duration
	// ClockClass is the class of a call signed with a clock ClockOffset
	// off: provider.ClassReplay for v2, whose gateway calls it a replay
	// (4500) and which re-signs it at once; provider.ClassCredentials for
	// providers whose refusal says the clock is off. Required.
	ClockClass provider.Class
	// ClockSkew is true when the refusal of a stale call carries the
	// provider's time, so that Error.ClockSkew measures the offset (the
	// provider's clock minus ours). When false, ClockSkew must stay zero.
	ClockSkew bool
}

// The suite's sizes.
const (
	// identities is how many generated identities the end-to-end and
	// billing subtests verify, for each of the four kinds; they are chosen
	// from pool generated ones so that every answer the generator scripts
	// is among them (a card code is about 0.2% of identities).
	identities = 120
	pool       = 4000
	// seed seeds the generated identities.
	seed = 7
	// quotaLimit is the per-second quota set for the quota subtest, and
	// burst the number of concurrent calls sent at it.
	quotaLimit = 3
	burst      = 15
	// skewTolerance bounds the difference between a measured ClockSkew
	// and the offset: the Date header has a resolution of a second.
	skewTolerance = 3 * time.Second
)

// v2Actions names, for each kind, the v2 action whose authCode the fixture
// scripts: the meaning every protocol's answer must carry.
var v2Actions = map[provider.Kind]string{
	provider.KindIDCard:    tencentv2.ActionIDCardAuth,
	provider.KindMobile3:   tencentv2.ActionMobileAuth3,
	provider.KindBankCard3: tencentv2.ActionBankCard3Auth,
	provider.KindBankCard4: tencentv2.ActionBankCardAuth4,
}

// Run runs the suite against cfg's implementation. Every subtest starts a
// sandbox of its own, so they run in parallel.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Name == "" || cfg.New == nil || cfg.ClockClass == "" {
		t.Fatal("providertest: Config needs Name, New and ClockClass")
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.ClockOffset == 0 {
		cfg.ClockOffset = time.Hour
	}
	s := &suite{cfg: cfg, entries: choose(identities)}

	t.Run("Describe", func(t *testing.T) {
		t.Parallel()
		s.testDescribe(t)
	})
	t.Run("EveryKindEndToEnd", func(t *testing.T) {
		t.Parallel()
		s.testEveryKind(t)
	})
	t.Run("BillingAgreesWithMeter", func(t *testing.T) {
		t.Parallel()
		s.testBilling(t)
	})
	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		s.testRefusals(t)
	})
	t.Run("Quota", func(t *testing.T) {
		t.Parallel()
		s.testQuota(t)
	})
	t.Run("Outage", func(t *testing.T) {
		t.Parallel()
		s.testOutage(t)
	})
	t.Run("TimeoutIsPossiblyBilled", func(t *testing.T) {
		t.Parallel()
		s.testTimeout(t)
	})
	t.Run("HTTP5xx", func(t *testing.T) {
		t.Parallel()
		s.testHTTP5xx(t)
	})
}

// suite is one Run: the configuration and the generated identities, which
// every subtest shares read-only.
type suite struct {
	cfg     Config
	entries []sample.Entry
}

// bundle is what one subtest works with: its sandbox and a provider pointed
// at it.
type bundle struct {
	sb       *sandbox.Server
	endpoint string
	p        provider.Provider
}

// setup starts a sandbox on loopback with the suite's fixture and returns a
// provider calling it with the right credentials. configure, when not nil,
// adjusts the sandbox's configuration; it is given the provider, whose
// actions it may need.
func (s *suite) setup(t *testing.T, configure func(c *sandbox.Config, p provider.Provider)) *bundle {
	t.Helper()
	// The sandbox is built after the provider, whose actions a configure
	// may need, and the provider after the listener, whose address is its
	// endpoint: the handler finds the sandbox through this pointer.
	var sb atomic.Pointer[sandbox.Server]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b := &bundle{endpoint: srv.URL + s.cfg.Path}
	b.p = s.cfg.New(t, b.endpoint, ClientOpts{SecretID: SecretID, SecretKey: SecretKey})

	var fixture bytes.Buffer
	if err := sample.WriteFixture(&fixture, slices.Values(s.entries)); err != nil {
		t.Fatal(err)
	}
	fx, err := sandbox.LoadFixture(&fixture)
	if err != nil {
		t.Fatal(err)
	}
	c := sandbox.Config{Credentials: map[string]string{SecretID: SecretKey}, Fixture: fx}
	if configure != nil {
		configure(&c, b.p)
	}
	b.sb, err = sandbox.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.sb.SetOutage(s.cfg.Name, false); err != nil {
		t.Fatalf("the sandbox does not know the provider %q: %v", s.cfg.Name, err)
	}
	sb.Store(b.sb)
	return b
}

// client returns another provider calling the bundle's sandbox, with opts;
// an empty SecretID or SecretKey is the right one.
func (s *suite) client(t *testing.T, b *bundle, opts ClientOpts) provider.Provider {
	t.Helper()
	if opts.SecretID == "" {
		opts.SecretID = SecretID
	}
	if opts.SecretKey == "" {
		opts.SecretKey = SecretKey
	}
	return s.cfg.New(t, b.endpoint, opts)
}

// withFaults returns a configure that injects f into the provider's calls.
func (s *suite) withFaults(t *testing.T, f sandbox.Faults) func(*sandbox.Config, provider.Provider) {
	t.Helper()
	return func(c *sandbox.Config, _ provider.Provider) {
		switch s.cfg.Name {
		case sandbox.ProviderTencentV2:
			c.Faults = f
		case sandbox.ProviderTencentV3:
			c.TencentV3Faults = f
		case sandbox.ProviderAliyun:
			c.AliyunFaults = f
		default:
			t.Fatalf("the sandbox has no faults for the provider %q", s.cfg.Name)
		}
	}
}

// meter returns the sandbox's counters of the provider under test.
func (s *suite) meter(b *bundle) sandbox.ProviderStats {
	return b.sb.Stats().Providers[s.cfg.Name]
}

// choose returns n generated identities: first, in the generator's order,
// each one that brings an answer (a kind's authCode) none before it had,
// then the first of the others.
func choose(n int) []sample.Entry {
	var chosen, rest []sample.Entry
	seen := map[string]bool{}
	for e := range sample.Generate(pool, seed) {
		fresh := false
		for _, action := range v2Actions {
			key := action + "/" + e.AuthCodes[action]
			if !seen[key] {
				seen[key], fresh = true, true
			}
		}
		if fresh {
			chosen = append(chosen, e)
		} else if len(rest) < n {
			rest = append(rest, e)
		}
	}
	return append(chosen, rest...)[:max(n, len(chosen))]
}

// request builds the request of kind for e through the validators, as the
// worker does. The order number is unique per identity and kind, as the
// worker's are per job.
func request(t testing.TB, kind provider.Kind, e sample.Entry) provider.Request {
	t.Helper()
	order, err1 := identity.ParseOrderNo(e.OrderNo + "-" + string(kind))
	name, err2 := identity.ParseName(e.Name)
	id, err3 := identity.ParseIDNumber(e.IDNumber)
	phone, err4 := identity.ParsePhone(e.Phone)
	card, err5 := identity.ParseBankCard(e.BankCard)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	req := provider.Request{Kind: kind, OrderNo: order, Name: name, IDNumber: id}
	switch kind {
	case provider.KindMobile3:
		req.Phone = phone
	case provider.KindBankCard3:
		req.BankCard = card
	case provider.KindBankCard4:
		req.Phone, req.BankCard = phone, card
	}
	return req
}

// want returns the class the fixture scripts for e's kind.
func want(kind provider.Kind, e sample.Entry) provider.Class {
	return tencentv2.ClassifyAuthCode(e.AuthCodes[v2Actions[kind]])
}

// checkAnswer fails t unless ans is the definitive answer of p to a request
// of kind for e, with the class the fixture scripts.
func (s *suite) checkAnswer(t testing.TB, p provider.Provider, kind provider.Kind, e sample.Entry, ans *provider.Answer, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s %s (scripted %s): %v", kind, e.OrderNo, e.AuthCodes[v2Actions[kind]], err)
	}
	if ans == nil {
		t.Fatalf("%s %s: Verify returned neither an answer nor an error", kind, e.OrderNo)
	}
	w := want(kind, e)
	switch {
	case ans.Class != w:
		t.Fatalf("%s %s: class %s (code %s), want %s (v2 authCode %s)", kind, e.OrderNo, ans.Class, ans.Code, w, e.AuthCodes[v2Actions[kind]])
	case !ans.Class.Definitive():
		t.Fatalf("%s %s: answer of class %s, which is not definitive", kind, e.OrderNo, ans.Class)
	case ans.Provider != s.cfg.Name:
		t.Fatalf("%s %s: Answer.Provider %q, want %q", kind, e.OrderNo, ans.Provider, s.cfg.Name)
	case ans.Action != p.Action(kind):
		t.Fatalf("%s %s: Answer.Action %q, want %q", kind, e.OrderNo, ans.Action, p.Action(kind))
	case ans.Code == "":
		t.Fatalf("%s %s: answer without a Code: %+v", kind, e.OrderNo, ans)
	case ans.Attempts < 1:
		t.Fatalf("%s %s: Attempts %d", kind, e.OrderNo, ans.Attempts)
	}
}

// providerError returns err as a *provider.Error of the call of kind, or
// fails t.
func (s *suite) providerError(t testing.TB, p provider.Provider, kind provider.Kind, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	if pe.Provider != s.cfg.Name || pe.Action != p.Action(kind) {
		t.Fatalf("error names %s %s, want %s %s: %v", pe.Provider, pe.Action, s.cfg.Name, p.Action(kind), err)
	}
	if provider.ClassOf(err) != pe.Class || provider.BillingOf(err) != pe.Billing {
		t.Fatalf("ClassOf/BillingOf disagree with the *provider.Error: %v", err)
	}
	return pe
}

// testDescribe checks the provider's description of itself against the
// sandbox: its name, an action for every kind, and the quota the sandbox
// documents for that action (none for v2).
func (s *suite) testDescribe(t *testing.T) {
	b := s.setup(t, nil)
	if got := b.p.Name(); got != s.cfg.Name {
		t.Errorf("Name() = %q, want %q", got, s.cfg.Name)
	}
	documented := sandbox.DocumentedQuotas()[s.cfg.Name]
	for _, kind := range provider.Kinds {
		action := b.p.Action(kind)
		if action == "" {
			t.Errorf("no action for %s", kind)
		}
		if got, want := b.p.Quota(kind), documented[action]; got != want {
			t.Errorf("Quota(%s) = %d, the sandbox documents %d for %s", kind, got, want, action)
		}
	}
}

// testEveryKind verifies every generated identity with every kind and
// compares each answer with the fixture's script.
func (s *suite) testEveryKind(t *testing.T) {
	b := s.setup(t, nil)
	var mu sync.Mutex
	classes := map[provider.Class]int{}
	t.Run("kinds", func(t *testing.T) {
		for _, kind := range provider.Kinds {
			t.Run(string(kind), func(t *testing.T) {
				t.Parallel()
				for _, e := range s.entries {
					ans, err := b.p.Verify(context.Background(), request(t, kind, e))
					s.checkAnswer(t, b.p, kind, e, ans, err)
					mu.Lock()
					classes[ans.Class]++
					mu.Unlock()
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	// The fixture must exercise every definitive class a generated
	// identity can get, or the comparison above proves little.
	for _, c := range []provider.Class{provider.ClassMatch, provider.ClassMismatch, provider.ClassInvalidCard, provider.ClassCardUnusable} {
		if classes[c] == 0 {
			t.Errorf("no answer of class %s among %v: the fixture does not exercise it", c, classes)
		}
	}
	st := s.meter(b)
	if st.Calls != int64(len(provider.Kinds)*len(s.entries)) {
		t.Errorf("the sandbox counted %d calls, want %d (one HTTP request per Verify)", st.Calls, len(provider.Kinds)*len(s.entries))
	}
}

// testBilling makes the calls one at a time and checks that the billing
// each answer claims is what the sandbox's meter booked for it.
func (s *suite) testBilling(t *testing.T) {
	b := s.setup(t, nil)
	var billed, notBilled int
	before := s.meter(b).Billed
	for _, kind := range provider.Kinds {
		for _, e := range s.entries {
			ans, err := b.p.Verify(context.Background(), request(t, kind, e))
			s.checkAnswer(t, b.p, kind, e, ans, err)
			after := s.meter(b).Billed
			switch delta := after - before; ans.Billing {
			case provider.Billed:
				billed++
				if delta != 1 {
					t.Fatalf("%s %s: answer %s says billed, the meter booked %d", kind, e.OrderNo, ans.Code, delta)
				}
			case provider.NotBilled:
				notBilled++
				if delta != 0 {
					t.Fatalf("%s %s: answer %s says not billed, the meter booked %d", kind, e.OrderNo, ans.Code, delta)
				}
			case provider.PossiblyBilled:
				if delta != 0 && delta != 1 {
					t.Fatalf("%s %s: answer %s is possibly billed, the meter booked %d", kind, e.OrderNo, ans.Code, delta)
				}
			default:
				t.Fatalf("%s %s: answer with billing %s", kind, e.OrderNo, ans.Billing)
			}
			before = after
		}
	}
	st := b.sb.Stats()
	ps := st.Providers[s.cfg.Name]
	if ps.IdentityReused != 0 || st.OrderNoReused != 0 || st.BilledByMoreThanOneProvider != 0 {
		t.Errorf("double billing: identity reused %d, orderNo reused %d, billed by more than one provider %d",
			ps.IdentityReused, st.OrderNoReused, st.BilledByMoreThanOneProvider)
	}
	if billed == 0 {
		t.Errorf("no answer was billed (%d not billed)", notBilled)
	}
}

// testRefusals checks what the provider answers when it will not run the
// action: wrong credentials, and a clock off by more than its window.
func (s *suite) testRefusals(t *testing.T) {
	b := s.setup(t, nil)
	off := s.cfg.ClockOffset
	cases := []struct {
		name  string
		opts  ClientOpts
		class provider.Class
		// skew is the ClockSkew expected, zero when none is.
		skew time.Duration
	}{
		{"wrong secret key", ClientOpts{SecretKey: "not-the-key"}, provider.ClassCredentials, 0},
		{"unknown secret id", ClientOpts{SecretID: "AKIDnobody"}, provider.ClassCredentials, 0},
		{"clock behind", ClientOpts{Now: func() time.Time { return time.Now().Add(-off) }}, s.cfg.ClockClass, off},
		{"clock ahead", ClientOpts{Now: func() time.Time { return time.Now().Add(off) }}, s.cfg.ClockClass, -off},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := s.client(t, b, tc.opts)
			e := s.entries[i]
			before := s.meter(b)
			_, err := p.Verify(context.Background(), request(t, provider.KindIDCard, e))
			if err == nil {
				t.Fatal("the call was answered")
			}
			pe := s.providerError(t, p, provider.KindIDCard, err)
			if pe.Class != tc.class || pe.Billing != provider.NotBilled {
				t.Fatalf("class %s, %s; want %s, %s: %v", pe.Class, pe.Billing, tc.class, provider.NotBilled, err)
			}
			if pe.Code == "" {
				t.Errorf("a refusal without the provider's code: %v", err)
			}
			after := s.meter(b)
			if after.Billed != before.Billed || after.Calls == before.Calls {
				t.Errorf("the meter booked %d billed of %d calls, want 0 billed of at least 1", after.Billed-before.Billed, after.Calls-before.Calls)
			}
			if strings.Contains(err.Error(), e.IDNumber) || strings.Contains(err.Error(), e.Name) || strings.Contains(err.Error(), SecretKey) {
				t.Errorf("the error leaks personal data or the key: %v", err)
			}
			switch {
			case tc.skew == 0 || !s.cfg.ClockSkew:
				if pe.ClockSkew != 0 {
					t.Errorf("ClockSkew %s, want none", pe.ClockSkew)
				}
			case (pe.ClockSkew > 0) != (tc.skew > 0) || (pe.ClockSkew-tc.skew).Abs() > skewTolerance:
				t.Errorf("ClockSkew %s, want %s within %s", pe.ClockSkew, tc.skew, skewTolerance)
			}
		})
	}
}

// testQuota sends a burst of concurrent calls at a low quota on the idcard
// action: the excess is throttled, not billed, and counted by the sandbox.
// A provider with no documented per-action quota (v2) gets the sandbox's
// provider-wide one instead.
func (s *suite) testQuota(t *testing.T) {
	b := s.setup(t, func(c *sandbox.Config, p provider.Provider) {
		action := p.Action(provider.KindIDCard)
		if _, ok := sandbox.DocumentedQuotas()[s.cfg.Name][action]; !ok {
			s.withFaults(t, sandbox.Faults{QuotaRPS: quotaLimit})(c, p)
			return
		}
		c.Quotas = sandbox.Quotas{Enabled: true, Limits: map[string]map[string]int{s.cfg.Name: {action: quotaLimit}}}
	})
	type outcome struct {
		ans *provider.Answer
		err error
	}
	out := make([]outcome, burst)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burst {
		// Built here: request may stop the test, which only the test's
		// own goroutine can do.
		req := request(t, provider.KindIDCard, s.entries[i])
		wg.Go(func() {
			<-start
			out[i].ans, out[i].err = b.p.Verify(context.Background(), req)
		})
	}
	close(start)
	wg.Wait()

	var throttled, answered, billed int
	for i, o := range out {
		if o.err == nil {
			s.checkAnswer(t, b.p, provider.KindIDCard, s.entries[i], o.ans, nil)
			answered++
			if o.ans.Billing == provider.Billed {
				billed++
			}
			continue
		}
		pe := s.providerError(t, b.p, provider.KindIDCard, o.err)
		if pe.Class != provider.ClassThrottled || pe.Billing != provider.NotBilled {
			t.Fatalf("call %d: class %s, %s; want %s, %s: %v", i, pe.Class, pe.Billing, provider.ClassThrottled, provider.NotBilled, o.err)
		}
		throttled++
	}
	st := s.meter(b)
	if throttled == 0 || answered < quotaLimit {
		t.Errorf("%d of %d calls throttled and %d answered at a quota of %d/s: want some of each", throttled, burst, answered, quotaLimit)
	}
	if st.QuotaRefused != int64(throttled) {
		t.Errorf("the sandbox refused %d calls for quota, the provider reported %d throttled", st.QuotaRefused, throttled)
	}
	if st.Billed != int64(billed) {
		t.Errorf("the meter billed %d calls, the answers say %d", st.Billed, billed)
	}
}

// testOutage switches the provider off in the sandbox and on again.
func (s *suite) testOutage(t *testing.T) {
	b := s.setup(t, nil)
	if err := b.sb.SetOutage(s.cfg.Name, true); err != nil {
		t.Fatal(err)
	}
	e := s.entries[0]
	_, err := b.p.Verify(context.Background(), request(t, provider.KindIDCard, e))
	if err == nil {
		t.Fatal("a switched-off provider answered")
	}
	pe := s.providerError(t, b.p, provider.KindIDCard, err)
	if pe.Class != provider.ClassTransient || pe.Billing != provider.NotBilled {
		t.Fatalf("class %s, %s; want %s, %s: %v", pe.Class, pe.Billing, provider.ClassTransient, provider.NotBilled, err)
	}
	if st := s.meter(b); st.OutageRefused != 1 || st.Billed != 0 {
		t.Fatalf("meter: %d refused for the outage, %d billed; want 1 and 0", st.OutageRefused, st.Billed)
	}

	if err := b.sb.SetOutage(s.cfg.Name, false); err != nil {
		t.Fatal(err)
	}
	ans, err := b.p.Verify(context.Background(), request(t, provider.KindIDCard, e))
	s.checkAnswer(t, b.p, provider.KindIDCard, e, ans, err)
}

// testTimeout has the sandbox run and bill the call but hold its answer
// past the client's timeout: the client cannot know, so the call is
// possibly billed.
func (s *suite) testTimeout(t *testing.T) {
	b := s.setup(t, s.withFaults(t, sandbox.Faults{TimeoutRate: 1, TimeoutHold: 10 * time.Second}))
	p := s.client(t, b, ClientOpts{Timeout: 200 * time.Millisecond})
	e := s.billedMatch(t)
	started := time.Now()
	_, err := p.Verify(context.Background(), request(t, provider.KindIDCard, e))
	if err == nil {
		t.Fatal("an answer held past the timeout arrived")
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Errorf("Verify took %s with a 200ms timeout", d)
	}
	pe := s.providerError(t, p, provider.KindIDCard, err)
	if pe.Class != provider.ClassTransient || pe.Billing != provider.PossiblyBilled {
		t.Fatalf("class %s, %s; want %s, %s: %v", pe.Class, pe.Billing, provider.ClassTransient, provider.PossiblyBilled, err)
	}
	if st := s.meter(b); st.Billed != 1 {
		t.Fatalf("the meter billed %d calls, want the held one", st.Billed)
	}
}

// testHTTP5xx has the provider's front end answer HTTP 5xx without running
// the action.
func (s *suite) testHTTP5xx(t *testing.T) {
	b := s.setup(t, s.withFaults(t, sandbox.Faults{HTTP5xxRate: 1}))
	_, err := b.p.Verify(context.Background(), request(t, provider.KindIDCard, s.billedMatch(t)))
	if err == nil {
		t.Fatal("an HTTP 5xx gave an answer")
	}
	pe := s.providerError(t, b.p, provider.KindIDCard, err)
	if pe.Class != provider.ClassTransient || pe.Billing != provider.NotBilled {
		t.Fatalf("class %s, %s; want %s, %s: %v", pe.Class, pe.Billing, provider.ClassTransient, provider.NotBilled, err)
	}
	if !strings.HasPrefix(pe.Code, "http 5") {
		t.Errorf("Code %q, want the HTTP status", pe.Code)
	}
	if st := s.meter(b); st.Billed != 0 || st.Calls != 1 {
		t.Fatalf("the meter billed %d of %d calls, want 0 of 1", st.Billed, st.Calls)
	}
}

// billedMatch returns an identity whose idcard check matches, an answer
// every provider bills.
func (s *suite) billedMatch(t *testing.T) sample.Entry {
	t.Helper()
	for _, e := range s.entries {
		if want(provider.KindIDCard, e) == provider.ClassMatch {
			return e
		}
	}
	t.Fatal("no generated identity matches")
	return sample.Entry{}
}
