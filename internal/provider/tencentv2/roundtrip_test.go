package tencentv2_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"

	"github.com/realname-io/realname/internal/provider/tencentv2"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/sandbox"
)

const (
	secretID  = "AKIDroundtrip"
	secretKey = "roundtrip-secret-key"
)

type bundle struct {
	sb      *sandbox.Server
	url     string
	entries []sample.Entry
}

// setup starts a sandbox on loopback with a fixture of n generated
// identities, and the given faults.
func setup(t testing.TB, n int, faults sandbox.Faults) *bundle {
	t.Helper()
	var entries []sample.Entry
	var fixture bytes.Buffer
	for e := range sample.Generate(n, 42) {
		entries = append(entries, e)
	}
	if err := sample.WriteFixture(&fixture, func(yield func(sample.Entry) bool) {
		for _, e := range entries {
			if !yield(e) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	fx, err := sandbox.LoadFixture(&fixture)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{Credentials: map[string]string{secretID: secretKey}, Fixture: fx, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &bundle{sb: sb, url: srv.URL + tencentv2.DefaultPath, entries: entries}
}

func (b *bundle) client(t testing.TB, cfg tencentv2.Config) *tencentv2.Client {
	t.Helper()
	if cfg.SecretID == "" {
		cfg.SecretID = secretID
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = secretKey
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = b.url
	}
	c, err := tencentv2.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request builds the typed request of action for a generated entry,
// through the validators, as the worker does.
func request(t testing.TB, action string, e sample.Entry, orderSuffix string) tencentv2.Request {
	t.Helper()
	order, err1 := identity.ParseOrderNo(e.OrderNo + orderSuffix)
	name, err2 := identity.ParseName(e.Name)
	id, err3 := identity.ParseIDNumber(e.IDNumber)
	phone, err4 := identity.ParsePhone(e.Phone)
	card, err5 := identity.ParseBankCard(e.BankCard)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	switch action {
	case tencentv2.ActionIDCardAuth:
		return tencentv2.IDCardAuthRequest{OrderNo: order, Name: name, IDNumber: id}
	case tencentv2.ActionMobileAuth3:
		return tencentv2.MobileAuth3Request{OrderNo: order, Name: name, IDNumber: id, Phone: phone}
	case tencentv2.ActionBankCard3Auth:
		return tencentv2.BankCard3AuthRequest{OrderNo: order, Name: name, IDNumber: id, BankCard: card}
	default:
		return tencentv2.BankCardAuth4Request{OrderNo: order, Name: name, IDNumber: id, BankCard: card, Phone: phone}
	}
}

var actions = []string{tencentv2.ActionIDCardAuth, tencentv2.ActionMobileAuth3, tencentv2.ActionBankCard3Auth, tencentv2.ActionBankCardAuth4}

// TestRoundTrip runs every action over GET and POST with both signature
// methods against the sandbox, whose own verifier checks our signatures,
// and compares every answer with the fixture's truth.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t, 60, sandbox.Faults{})
	for _, method := range []string{"GET", "POST"} {
		for _, sm := range []tencentv2.SignatureMethod{tencentv2.HmacSHA1, tencentv2.HmacSHA256} {
			t.Run(method+"/"+string(sm), func(t *testing.T) {
				t.Parallel()
				c := b.client(t, tencentv2.Config{Method: method, SignatureMethod: sm, Region: "ap-guangzhou"})
				classes := map[provider.Class]int{}
				for _, action := range actions {
					for _, e := range b.entries {
						res, err := c.Verify(context.Background(), request(t, action, e, "-"+method+string(sm)))
						if err != nil {
							t.Fatalf("%s %s: %v", action, e.OrderNo, err)
						}
						want := tencentv2.ClassifyAuthCode(e.AuthCodes[action])
						if res.AuthCode != e.AuthCodes[action] || res.Class != want {
							t.Fatalf("%s %s: got %s/%s, want %s/%s", action, e.OrderNo, res.AuthCode, res.Class, e.AuthCodes[action], want)
						}
						if res.Message == "" || res.Attempts != 1 {
							t.Fatalf("result %+v lacks a message or made %d attempts", res, res.Attempts)
						}
						classes[res.Class]++
					}
				}
				if classes[provider.ClassMatch] == 0 || classes[provider.ClassMismatch] == 0 {
					t.Fatalf("the fixture should give matches and mismatches, got %v", classes)
				}
			})
		}
	}
}

// tamper is a transport that changes the Signature of every request on its
// way to the sandbox.
type tamper struct{ next http.RoundTripper }

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	sig := []byte(form.Get("Signature"))
	sig[0] ^= 1
	form.Set("Signature", string(sig))
	enc := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(enc))
	r2.ContentLength = int64(len(enc))
	return tp.next.RoundTrip(r2)
}

// TestSandboxRefuses checks the gateway errors our client meets when the
// request is wrong, and the class each gets.
func TestSandboxRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t, 1, sandbox.Faults{})
	e := b.entries[0]
	var fixed atomic.Uint32
	fixed.Store(777)
	cases := []struct {
		name  string
		cfg   tencentv2.Config
		calls int
		code  int
		class provider.Class
	}{
		{"wrong secret key", tencentv2.Config{SecretKey: "not-the-key"}, 1, 4100, provider.ClassCredentials},
		{"tampered signature", tencentv2.Config{HTTPClient: &http.Client{Transport: tamper{http.DefaultTransport}}}, 1, 4100, provider.ClassCredentials},
		{"unknown SecretId", tencentv2.Config{SecretID: "AKIDnobody"}, 1, 4104, provider.ClassCredentials},
		{"stale timestamp", tencentv2.Config{Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }}, 1, 4500, provider.ClassReplay},
		{"future timestamp", tencentv2.Config{Now: func() time.Time { return time.Now().Add(3 * time.Hour) }}, 1, 4500, provider.ClassReplay},
		// The same Nonce every time: the second call is a replay, and so is
		// its immediate re-sign.
		{"replayed nonce", tencentv2.Config{Nonce: func() uint32 { return fixed.Load() }}, 2, 4500, provider.ClassReplay},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := b.client(t, tc.cfg)
			var err error
			for call := range tc.calls {
				_, err = c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, e, "-refuse-"+string(rune('a'+i))+string(rune('a'+call))))
			}
			var apiErr *tencentv2.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tc.code {
				t.Fatalf("err = %v, want gateway code %d", err, tc.code)
			}
			if got := tencentv2.ClassOf(err); got != tc.class {
				t.Fatalf("class %s, want %s", got, tc.class)
			}
			if strings.Contains(err.Error(), e.IDNumber) || strings.Contains(err.Error(), e.Name) {
				t.Fatalf("error leaks personal data: %v", err)
			}
		})
	}
}

// TestReplayIsResignedAtOnce: a 4500 answer is re-signed with a fresh Nonce
// and sent again within the same Verify call.
func TestReplayIsResignedAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 2, sandbox.Faults{})
	nonces := []uint32{4242, 4242, 4243}
	var i atomic.Int32
	c := b.client(t, tencentv2.Config{Nonce: func() uint32 { return nonces[int(i.Add(1))-1] }})
	if _, err := c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, b.entries[0], "")); err != nil {
		t.Fatal(err)
	}
	res, err := c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, b.entries[1], ""))
	if err != nil {
		t.Fatalf("replay was not re-signed: %v", err)
	}
	if res.Attempts != 2 || c.Attempts() != 3 {
		t.Fatalf("attempts: result %d, client %d; want 2 and 3", res.Attempts, c.Attempts())
	}
	if got := b.sb.Stats().Billed; got != 2 {
		t.Fatalf("billed %d, want 2", got)
	}
}

// TestFaults checks the class of each injected fault, and which calls may
// have been billed.
func TestFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults sandbox.Faults
		cfg    tencentv2.Config
		class  provider.Class
		status int
		billed bool
	}{
		{"http 5xx", sandbox.Faults{HTTP5xxRate: 1}, tencentv2.Config{}, provider.ClassTransient, -1, false},
		{"dropped connection", sandbox.Faults{DropRate: 1}, tencentv2.Config{}, provider.ClassTransient, 0, true},
		{"timeout after billing", sandbox.Faults{TimeoutRate: 1, TimeoutHold: 5 * time.Second}, tencentv2.Config{Timeout: 200 * time.Millisecond}, provider.ClassTransient, 0, true},
		{"gateway 5100", sandbox.Faults{CodeRate: 1, Codes: []int{5100}}, tencentv2.Config{}, provider.ClassTransient, 200, false},
		{"gateway 6200", sandbox.Faults{CodeRate: 1, Codes: []int{6200}}, tencentv2.Config{}, provider.ClassTransient, 200, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 1, tc.faults)
			c := b.client(t, tc.cfg)
			_, err := c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, b.entries[0], ""))
			if err == nil {
				t.Fatal("fault gave a result")
			}
			if got := tencentv2.ClassOf(err); got != tc.class {
				t.Fatalf("class %s, want %s (%v)", got, tc.class, err)
			}
			// A request that reached the server but got no answer may have
			// been billed: the client must say so.
			if got := tencentv2.PossiblyBilled(err); got != tc.billed {
				t.Fatalf("PossiblyBilled = %v, want %v (%v)", got, tc.billed, err)
			}
			var te *tencentv2.TransportError
			if tc.status == -1 && (!errors.As(err, &te) || te.StatusCode < 500) {
				t.Fatalf("want an HTTP 5xx TransportError, got %v", err)
			}
		})
	}
}

func TestQuotaIsThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t, 20, sandbox.Faults{QuotaRPS: 5})
	c := b.client(t, tencentv2.Config{})
	throttled := 0
	for _, e := range b.entries {
		_, err := c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, e, ""))
		if err != nil {
			if tencentv2.ClassOf(err) != provider.ClassThrottled {
				t.Fatalf("want throttled, got %v", err)
			}
			throttled++
		}
	}
	if throttled == 0 || int64(throttled) != b.sb.Stats().QuotaRefused {
		t.Fatalf("throttled %d, sandbox refused %d", throttled, b.sb.Stats().QuotaRefused)
	}
}

func TestTLSCertificateErrorNeedsAnOperator(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := tencentv2.New(tencentv2.Config{SecretID: secretID, SecretKey: secretKey, Endpoint: srv.URL + tencentv2.DefaultPath})
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, 1, sandbox.Faults{})
	_, err = c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, b.entries[0], ""))
	if tencentv2.ClassOf(err) != provider.ClassCredentials {
		t.Fatalf("self-signed certificate: class %s (%v), want credentials", tencentv2.ClassOf(err), err)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()
	b := setup(t, 1, sandbox.Faults{})
	c, err := tencentv2.New(tencentv2.Config{SecretID: secretID, SecretKey: secretKey, Endpoint: redirect.URL + tencentv2.DefaultPath})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, b.entries[0], ""))
	var te *tencentv2.TransportError
	if !errors.As(err, &te) || te.StatusCode != http.StatusFound || hits.Load() != 0 {
		t.Fatalf("err = %v, target hits %d: a redirect must not be followed", err, hits.Load())
	}
}

func TestGETEncodesOnce(t *testing.T) {
	t.Parallel()
	// The signature of this key and these inputs contains "+" and "/"; the
	// sandbox verifies only if they arrive encoded exactly once.
	b := setup(t, 40, sandbox.Faults{})
	c := b.client(t, tencentv2.Config{Method: "GET"})
	for _, e := range b.entries {
		if _, err := c.Verify(context.Background(), request(t, tencentv2.ActionIDCardAuth, e, "-get")); err != nil {
			t.Fatalf("%s: %v", e.OrderNo, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []tencentv2.Config{
		{},
		{SecretID: "a"},
		{SecretID: "a", SecretKey: "b", Method: "PUT"},
		{SecretID: "a", SecretKey: "b", SignatureMethod: "MD5"},
		{SecretID: "a", SecretKey: "b", Endpoint: "ftp://x"},
		{SecretID: "a", SecretKey: "b", Endpoint: "://"},
	}
	for _, cfg := range cases {
		_, err := tencentv2.New(cfg)
		if !errors.Is(err, tencentv2.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
		if err != nil && cfg.SecretKey != "" && strings.Contains(err.Error(), cfg.SecretKey+"\"") {
			t.Errorf("error reveals the secret key: %v", err)
		}
	}
}
