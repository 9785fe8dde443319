package tencentv3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/tencentv3"
)

const (
	secretID  = "AKIDtencentv3test"
	secretKey = "tencentv3-test-secret-key"

	rawName  = "张三"
	rawID    = "11010519491231002X"
	rawPhone = "13812345678"
)

// rawCard is a Luhn-valid card number.
var rawCard = "622202123456789012" + string(identity.LuhnCheckDigit("622202123456789012"))

// request builds a validated request of kind, as the worker does.
func request(t *testing.T, kind provider.Kind) provider.Request {
	t.Helper()
	name, err1 := identity.ParseName(rawName)
	id, err2 := identity.ParseIDNumber(rawID)
	phone, err3 := identity.ParsePhone(rawPhone)
	card, err4 := identity.ParseBankCard(rawCard)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	req := provider.Request{Kind: kind, OrderNo: "order-1", Name: name, IDNumber: id}
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

// captured is one request as the server saw it.
type captured struct {
	method, path, host string
	header             http.Header
	body               []byte
}

// bundle is what a test needs: a server answering with reply and
// recording what it was sent, and the client's config pointed at it.
type bundle struct {
	srv  *httptest.Server
	cfg  tencentv3.Config
	mu   sync.Mutex
	reqs []captured
}

// setup starts a loopback server whose handler is reply (after the request
// was recorded); a nil reply answers a match.
func setup(t *testing.T, reply http.HandlerFunc) *bundle {
	t.Helper()
	if reply == nil {
		reply = answer(`{"Response":{"Result":"0","Description":"ok","RequestId":"ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"}}`)
	}
	b := &bundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, captured{r.Method, r.URL.EscapedPath(), r.Host, r.Header.Clone(), body})
		b.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(b.srv.Close)
	b.cfg = tencentv3.Config{SecretID: secretID, SecretKey: secretKey, Endpoint: b.srv.URL + "/"}
	return b
}

func (b *bundle) client(t *testing.T, mutate func(*tencentv3.Config)) *tencentv3.Client {
	t.Helper()
	cfg := b.cfg
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := tencentv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (b *bundle) requests() []captured {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

// providerError asserts err is a *provider.Error of class and billing that
// names no personal data, and returns it.
func providerError(t *testing.T, err error, class provider.Class, billing provider.Billing) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("want *provider.Error, got %T %v", err, err)
	}
	if pe.Class != class || pe.Billing != billing {
		t.Fatalf("got %s/%s, want %s/%s: %v", pe.Class, pe.Billing, class, billing, err)
	}
	if provider.ClassOf(err) != class || provider.BillingOf(err) != billing {
		t.Fatal("provider.ClassOf/BillingOf disagree with the error")
	}
	requireNoPersonalData(t, err.Error())
	return pe
}

func requireNoPersonalData(t *testing.T, s string) {
	t.Helper()
	for _, p := range []string{rawName, rawID, rawID[:17], rawPhone, rawCard} {
		if strings.Contains(s, p) {
			t.Fatalf("%q leaks personal data", s)
		}
	}
}

// verifyAuthorization checks a captured request's Authorization against
// our own signer, as Tencent would: from what arrived, not from what the
// client meant to send.
func verifyAuthorization(t *testing.T, c captured, id, key string) {
	t.Helper()
	ts, err := strconv.ParseInt(c.header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		t.Fatalf("X-TC-Timestamp: %v", err)
	}
	auth := c.header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, tencentv3.Algorithm+" ")
	if !ok {
		t.Fatalf("Authorization %q lacks the algorithm", auth)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(part, "=")
		fields[k] = v
	}
	wantCred := id + "/" + tencentv3.CredentialScope(ts, tencentv3.Service)
	if fields["Credential"] != wantCred {
		t.Fatalf("Credential = %q, want %q", fields["Credential"], wantCred)
	}
	if fields["SignedHeaders"] != "content-type;host" {
		t.Fatalf("SignedHeaders = %q", fields["SignedHeaders"])
	}
	canonical, _ := tencentv3.CanonicalRequest(c.method, c.path, "", map[string]string{
		"content-type": c.header.Get("Content-Type"),
		"host":         c.host,
	}, c.body)
	want := tencentv3.Signature(key, ts, tencentv3.Service, tencentv3.StringToSign(ts, tencentv3.Service, canonical))
	if fields["Signature"] != want {
		t.Fatalf("Signature = %q, want %q", fields["Signature"], want)
	}
}

// TestRequestShape captures one request per kind and checks the method,
// the headers, the exact body fields and the signature.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	// 20:00 UTC is 04:00 the next day in Beijing: the credential scope must
	// carry the UTC date.
	now := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	cases := []struct {
		kind   provider.Kind
		action string
		fields map[string]any
	}{
		{provider.KindIDCard, "IdCardVerification", map[string]any{"IdCard": rawID, "Name": rawName}},
		{provider.KindMobile3, "PhoneVerification", map[string]any{"IdCard": rawID, "Name": rawName, "Phone": rawPhone, "VerifyMode": "0"}},
		{provider.KindBankCard3, "BankCardVerification", map[string]any{"IdCard": rawID, "Name": rawName, "BankCard": rawCard, "CertType": json.Number("0")}},
		{provider.KindBankCard4, "BankCard4EVerification", map[string]any{"Name": rawName, "BankCard": rawCard, "Phone": rawPhone, "IdCard": rawID, "CertType": json.Number("0")}},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			c := b.client(t, func(cfg *tencentv3.Config) { cfg.Now = func() time.Time { return now } })
			if got := c.Action(tc.kind); got != tc.action {
				t.Fatalf("Action(%s) = %s", tc.kind, got)
			}
			ans, err := c.Verify(context.Background(), request(t, tc.kind))
			if err != nil {
				t.Fatal(err)
			}
			want := provider.Answer{Provider: "tencent-v3", Action: tc.action, Class: provider.ClassMatch, Code: "0", Message: "ok", Billing: provider.Billed, Attempts: 1}
			if *ans != want {
				t.Fatalf("answer %+v, want %+v", *ans, want)
			}

			reqs := b.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.path != "/" {
				t.Fatalf("%s %s, want POST /", r.method, r.path)
			}
			wantHeaders := map[string]string{
				"Content-Type":   "application/json; charset=utf-8",
				"X-Tc-Action":    tc.action,
				"X-Tc-Version":   "2018-03-01",
				"X-Tc-Timestamp": strconv.FormatInt(now.Unix(), 10),
			}
			for k, v := range wantHeaders {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, absent := range []string{"X-Tc-Region", "X-Tc-Token"} {
				if _, ok := r.header[absent]; ok {
					t.Errorf("%s sent though not configured", absent)
				}
			}
			if r.host != strings.TrimPrefix(b.srv.URL, "http://") {
				t.Errorf("Host = %q", r.host)
			}
			if !strings.Contains(r.header.Get("Authorization"), "/2026-03-01/faceid/tc3_request") {
				t.Errorf("Authorization %q lacks the UTC date", r.header.Get("Authorization"))
			}
			verifyAuthorization(t, r, secretID, secretKey)

			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.UseNumber()
			var got map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Fatalf("body fields %v, want %v", got, tc.fields)
			}
		})
	}
}

// TestRequestOptions checks the optional headers, VerifyMode and an
// endpoint with a path, which is signed as the canonical URI.
func TestRequestOptions(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t, func(cfg *tencentv3.Config) {
		cfg.Region = "ap-guangzhou"
		cfg.Token = "sts-token"
		cfg.VerifyMode = "1"
		cfg.Endpoint = b.srv.URL + "/faceid/"
	})
	if _, err := c.Verify(context.Background(), request(t, provider.KindMobile3)); err != nil {
		t.Fatal(err)
	}
	r := b.requests()[0]
	if r.path != "/faceid/" || r.header.Get("X-TC-Region") != "ap-guangzhou" || r.header.Get("X-TC-Token") != "sts-token" {
		t.Fatalf("path %q, headers %v", r.path, r.header)
	}
	if !bytes.Contains(r.body, []byte(`"VerifyMode":"1"`)) {
		t.Fatalf("VerifyMode not sent as \"1\"")
	}
	verifyAuthorization(t, r, secretID, secretKey)
}

// TestAnswers runs whole calls against canned answers.
func TestAnswers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		kind    provider.Kind
		reply   http.HandlerFunc
		class   provider.Class
		billing provider.Billing
		code    string
	}{
		{"bank card lost", provider.KindBankCard3, answer(`{"Response":{"Result":"-12","Description":"此卡已挂失"}}`), provider.ClassCardUnusable, provider.Billed, "-12"},
		{"4E: -5 is a bad phone", provider.KindBankCard4, answer(`{"Response":{"Result":"-5","Description":"手机号码不合法"}}`), provider.ClassBadRequest, provider.NotBilled, "-5"},
		{"identity limit", provider.KindIDCard, answer(`{"Response":{"Result":"-7","Description":"认证次数超过当日限制"}}`), provider.ClassIdentityLimit, provider.NotBilled, "-7"},
		{"busy", provider.KindMobile3, answer(`{"Response":{"Result":"-11","Description":"验证中心服务繁忙"}}`), provider.ClassTransient, provider.NotBilled, "-11"},
		{"arrears", provider.KindIDCard, answer(`{"Response":{"Error":{"Code":"UnauthorizedOperation.Arrears","Message":"欠费"},"RequestId":"x"}}`), provider.ClassCredentials, provider.NotBilled, "UnauthorizedOperation.Arrears"},
		{"throttled", provider.KindIDCard, answer(`{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"x"}}}`), provider.ClassThrottled, provider.NotBilled, "RequestLimitExceeded"},
		{"502 html", provider.KindIDCard, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>502</html>")
		}, provider.ClassTransient, provider.NotBilled, "http 502"},
		{"429", provider.KindIDCard, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }, provider.ClassThrottled, provider.NotBilled, "http 429"},
		{"404", provider.KindIDCard, http.NotFound, provider.ClassCredentials, provider.NotBilled, "http 404"},
		{"200 garbage", provider.KindBankCard4, answer(`<html>captive portal</html>`), provider.ClassTransient, provider.PossiblyBilled, "http 200"},
		{"redirect not followed", provider.KindIDCard, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, provider.ClassCredentials, provider.NotBilled, "http 302"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.reply)
			c := b.client(t, nil)
			ans, err := c.Verify(context.Background(), request(t, tc.kind))
			if tc.class.Definitive() {
				// A definitive answer is a result, not an error.
				if err != nil {
					t.Fatal(err)
				}
				if ans.Class != tc.class || ans.Billing != tc.billing || ans.Code != tc.code || ans.Action != c.Action(tc.kind) {
					t.Fatalf("answer %+v", ans)
				}
			} else {
				if ans != nil {
					t.Fatalf("answer %+v with error %v", ans, err)
				}
				pe := providerError(t, err, tc.class, tc.billing)
				if pe.Code != tc.code || pe.Provider != "tencent-v3" || pe.Action != c.Action(tc.kind) {
					t.Fatalf("error %+v", pe)
				}
			}
			if n := len(b.requests()); n != 1 {
				t.Fatalf("%d requests reached the server, want 1 (redirects are not followed)", n)
			}
		})
	}
}

// TestClockSkewFromDateHeader runs a call whose clock is 10 minutes slow
// against a server that answers AuthFailure.SignatureExpire.
func TestClockSkewFromDateHeader(t *testing.T) {
	t.Parallel()
	b := setup(t, answer(`{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"signature expired"}}}`))
	c := b.client(t, func(cfg *tencentv3.Config) {
		cfg.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	})
	_, err := c.Verify(context.Background(), request(t, provider.KindIDCard))
	pe := providerError(t, err, provider.ClassCredentials, provider.NotBilled)
	if d := pe.ClockSkew - 10*time.Minute; d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("ClockSkew = %s, want about 10m", pe.ClockSkew)
	}
	if msg := err.Error(); !strings.Contains(msg, "behind") || !strings.Contains(msg, "NTP") {
		t.Fatalf("%q does not explain the skew", msg)
	}
}

// TestHangAfterRequestIsPossiblyBilled: the server read the whole request
// and never answered, so Tencent may have run and billed it.
func TestHangAfterRequestIsPossiblyBilled(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var read atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		read.Store(true)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: unblocks the handler
	c, err := tencentv3.New(tencentv3.Config{SecretID: secretID, SecretKey: secretKey, Endpoint: srv.URL, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Verify(context.Background(), request(t, provider.KindBankCard4))
	providerError(t, err, provider.ClassTransient, provider.PossiblyBilled)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Timeout not applied: took %s", took)
	}
	if !read.Load() {
		t.Fatal("server never read the request")
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("%q holds the URL", err)
	}
}

// TestRefusedIsNotBilled: nothing listens, so nothing was sent.
func TestRefusedIsNotBilled(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := tencentv3.New(tencentv3.Config{SecretID: secretID, SecretKey: secretKey, Endpoint: "http://" + addr + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), request(t, provider.KindIDCard))
	pe := providerError(t, err, provider.ClassTransient, provider.NotBilled)
	if pe.Code != "" || strings.Contains(err.Error(), "http://") {
		t.Fatalf("error %q", err)
	}
	if c.Attempts() != 1 {
		t.Fatalf("Attempts = %d", c.Attempts())
	}
}

// TestCancelledBeforeSendIsNotBilled: a context that ended before the call
// sends nothing.
func TestCancelledBeforeSendIsNotBilled(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Verify(ctx, request(t, provider.KindIDCard))
	providerError(t, err, provider.ClassTransient, provider.NotBilled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if n := len(b.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// TestUntrustedCertificateIsCredentials: a certificate that does not verify
// needs a person, not retries.
func TestUntrustedCertificateIsCredentials(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(answer(`{"Response":{"Result":"0"}}`))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake error is the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := tencentv3.New(tencentv3.Config{SecretID: secretID, SecretKey: secretKey, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), request(t, provider.KindIDCard))
	pe := providerError(t, err, provider.ClassCredentials, provider.NotBilled)
	if !strings.Contains(pe.Hint, "certificate") {
		t.Fatalf("hint %q", pe.Hint)
	}
}

// TestBadRequestsAreNotSent: a request lacking a field of its kind is our
// bug; it is refused before anything is signed or sent.
func TestBadRequestsAreNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client(t, nil)
	noPhone := request(t, provider.KindMobile3)
	noPhone.Phone = ""
	noCard := request(t, provider.KindBankCard4)
	noCard.BankCard = ""
	unknown := request(t, provider.KindIDCard)
	unknown.Kind = "passport"
	for _, req := range []provider.Request{noPhone, noCard, unknown} {
		_, err := c.Verify(context.Background(), req)
		providerError(t, err, provider.ClassBadRequest, provider.NotBilled)
	}
	if n := len(b.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  tencentv3.Config
	}{
		{"no secret id", tencentv3.Config{SecretKey: "k"}},
		{"no secret key", tencentv3.Config{SecretID: "id"}},
		{"space in secret id", tencentv3.Config{SecretID: "id ", SecretKey: "k"}},
		{"newline in secret key", tencentv3.Config{SecretID: "id", SecretKey: "k\n"}},
		{"newline in token", tencentv3.Config{SecretID: "id", SecretKey: "k", Token: "a\nb"}},
		{"ftp endpoint", tencentv3.Config{SecretID: "id", SecretKey: "k", Endpoint: "ftp://faceid.tencentcloudapi.com/"}},
		{"endpoint with query", tencentv3.Config{SecretID: "id", SecretKey: "k", Endpoint: "https://faceid.tencentcloudapi.com/?a=b"}},
		{"endpoint without host", tencentv3.Config{SecretID: "id", SecretKey: "k", Endpoint: "https:///"}},
		{"verify mode", tencentv3.Config{SecretID: "id", SecretKey: "k", VerifyMode: "2"}},
		{"negative timeout", tencentv3.Config{SecretID: "id", SecretKey: "k", Timeout: -time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tencentv3.New(tc.cfg)
			if !errors.Is(err, tencentv3.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", err)
			}
			if tc.cfg.SecretKey != "" && strings.Contains(err.Error(), tc.cfg.SecretKey+"\n") {
				t.Fatal("secret in error")
			}
		})
	}
}

func TestProviderMethods(t *testing.T) {
	t.Parallel()
	c, err := tencentv3.New(tencentv3.Config{SecretID: "id", SecretKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	var p provider.Provider = c
	if p.Name() != "tencent-v3" {
		t.Fatalf("Name = %s", p.Name())
	}
	want := map[provider.Kind]struct {
		action string
		quota  int
	}{
		provider.KindIDCard:    {"IdCardVerification", 100},
		provider.KindMobile3:   {"PhoneVerification", 20},
		provider.KindBankCard3: {"BankCardVerification", 20},
		provider.KindBankCard4: {"BankCard4EVerification", 20},
		"passport":             {"", 0},
	}
	for kind, w := range want {
		if got := p.Action(kind); got != w.action {
			t.Errorf("Action(%s) = %q, want %q", kind, got, w.action)
		}
		if got := p.Quota(kind); got != w.quota {
			t.Errorf("Quota(%s) = %d, want %d", kind, got, w.quota)
		}
	}
	for _, kind := range provider.Kinds {
		if p.Action(kind) == "" {
			t.Errorf("no action for %s", kind)
		}
	}
}
