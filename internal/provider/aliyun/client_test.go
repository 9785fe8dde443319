package aliyun_test

import (
	"context"
	"errors"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/aliyun"
)

const (
	keyID     = "LTAItestkey"
	keySecret = "test-secret"

	// Personal data of the test requests: none of it may reach an error.
	name     = "张三"
	idNumber = "11010519491231002X"
	phone    = "13800138000"
	card     = "6222020200112233445"
)

func request(kind provider.Kind) provider.Request {
	return provider.Request{
		Kind:     kind,
		OrderNo:  identity.OrderNo("order-1"),
		Name:     identity.Name(name),
		IDNumber: identity.IDNumber(idNumber),
		Phone:    identity.Phone(phone),
		BankCard: identity.BankCard(card),
	}
}

// seen is one request as the fake cloudauth received it.
type seen struct {
	method      string
	contentType string
	query       string
	params      map[string]string
	sigOK       bool
}

// fake is a cloudauth stand-in on loopback: it checks every request's
// signature with our own signer and answers with respond.
type fake struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []seen
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

// setup starts a fake that answers with respond (a match when nil).
func setup(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{respond: respond}
	if f.respond == nil {
		f.respond = func(int, http.ResponseWriter, *http.Request) {}
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, contentType: r.Header.Get("Content-Type"), query: r.URL.RawQuery, params: map[string]string{}}
		var values url.Values
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			values, _ = url.ParseQuery(string(body))
		} else {
			values = r.URL.Query()
		}
		for k, v := range values {
			s.params[k] = v[0]
		}
		s.sigOK = s.params["Signature"] != "" &&
			aliyun.Sign(keySecret, aliyun.StringToSign(r.Method, s.params)) == s.params["Signature"]
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		n := len(f.reqs)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		f.respond(n, w, r)
		if w.Header().Get("X-Written") == "" {
			// A match, with a SubCode where the action documents one.
			sub := ""
			if a := s.params["Action"]; a == aliyun.ActionBankCard || a == aliyun.ActionMobile3Detail {
				sub = `,"SubCode":"101"`
			}
			_, _ = io.WriteString(w, `{"RequestId":"R","Code":"200","Message":"success","ResultObject":{"BizCode":"1"`+sub+`}}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// reply writes body with status and marks the response as written.
func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("X-Written", "1")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fake) client(t *testing.T, cfg aliyun.Config) *aliyun.Client {
	t.Helper()
	cfg.AccessKeyID = cmpOr(cfg.AccessKeyID, keyID)
	cfg.AccessKeySecret = cmpOr(cfg.AccessKeySecret, keySecret)
	cfg.Endpoint = cmpOr(cfg.Endpoint, f.srv.URL+"/")
	c, err := aliyun.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkNoPersonalData fails if err's text holds any of the request's data.
func checkNoPersonalData(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range []string{name, idNumber, phone, card, keySecret, "1101051949", "6222020200"} {
		if strings.Contains(err.Error(), v) {
			t.Fatalf("error leaks %q: %v", v, err)
		}
	}
}

// TestRequestShape sends every kind by GET and POST and checks what
// arrives: the common parameters, exactly the spec's business parameters,
// a signature that verifies, and a fresh nonce per request.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	business := map[provider.Kind]map[string]string{
		provider.KindIDCard:  {"ParamType": "normal", "IdentifyNum": idNumber, "UserName": name},
		provider.KindMobile3: {"ParamType": "normal", "Mobile": phone, "IdentifyNum": idNumber, "UserName": name},
		provider.KindBankCard3: {"ParamType": "normal", "VerifyMode": "VERIFY_BANK_CARD", "ProductType": "BANK_CARD_3_META",
			"BankCard": card, "UserName": name, "IdentifyNum": idNumber, "IdentityType": "01"},
		provider.KindBankCard4: {"ParamType": "normal", "VerifyMode": "VERIFY_BANK_CARD", "ProductType": "BANK_CARD_4_META",
			"BankCard": card, "UserName": name, "IdentifyNum": idNumber, "Mobile": phone, "IdentityType": "01"},
	}
	actions := map[provider.Kind]string{
		provider.KindIDCard: "Id2MetaVerify", provider.KindMobile3: "Mobile3MetaSimpleVerify",
		provider.KindBankCard3: "BankMetaVerify", provider.KindBankCard4: "BankMetaVerify",
	}
	now := time.Date(2026, 3, 1, 4, 5, 6, 0, time.FixedZone("CST", 8*3600))
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			f := setup(t, nil)
			c := f.client(t, aliyun.Config{Method: method, Now: func() time.Time { return now }})
			for _, kind := range provider.Kinds {
				ans, err := c.Verify(context.Background(), request(kind))
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				if ans.Provider != "aliyun" || ans.Action != actions[kind] || ans.Attempts != 1 {
					t.Fatalf("%s: answer %+v", kind, ans)
				}
			}
			reqs := f.requests()
			if len(reqs) != len(provider.Kinds) {
				t.Fatalf("%d requests, want %d", len(reqs), len(provider.Kinds))
			}
			nonces := map[string]bool{}
			for i, kind := range provider.Kinds {
				r := reqs[i]
				if r.method != method || !r.sigOK {
					t.Fatalf("%s: method %s, signature verifies %v", kind, r.method, r.sigOK)
				}
				if method == "POST" && (r.contentType != "application/x-www-form-urlencoded" || r.query != "") {
					t.Fatalf("POST with Content-Type %q and query %q: every parameter belongs in the body", r.contentType, r.query)
				}
				want := map[string]string{
					"AccessKeyId": keyID, "Action": actions[kind], "Format": "JSON", "SignatureMethod": "HMAC-SHA1",
					"SignatureVersion": "1.0", "Timestamp": "2026-02-28T20:05:06Z", "Version": "2019-03-07",
					"SignatureNonce": r.params["SignatureNonce"], "Signature": r.params["Signature"],
				}
				maps.Copy(want, business[kind])
				if !maps.Equal(r.params, want) {
					t.Fatalf("%s: parameters\n got %v\nwant %v", kind, r.params, want)
				}
				if len(r.params["SignatureNonce"]) != 36 || nonces[r.params["SignatureNonce"]] {
					t.Fatalf("%s: nonce %q is not a fresh UUID", kind, r.params["SignatureNonce"])
				}
				nonces[r.params["SignatureNonce"]] = true
			}
		})
	}
}

// TestSignatureEncodedOnce: signatures with "+", "/" and "=" verify on
// the server only if the client encodes them exactly once.
func TestSignatureEncodedOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	specials := 0
	for _, method := range []string{"GET", "POST"} {
		c := f.client(t, aliyun.Config{Method: method})
		for range 30 {
			if _, err := c.Verify(context.Background(), request(provider.KindIDCard)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range f.requests() {
		if !r.sigOK {
			t.Fatalf("signature %q did not verify", r.params["Signature"])
		}
		if strings.ContainsAny(r.params["Signature"], "+/") {
			specials++
		}
	}
	if specials == 0 {
		t.Fatal("no signature held + or /: the test proves nothing")
	}
}

// TestMobile3Detail: the option switches mobile3 to the detail action,
// whose SubCodes are classified.
func TestMobile3Detail(t *testing.T) {
	t.Parallel()
	f := setup(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, `{"Code":"200","ResultObject":{"BizCode":"2","SubCode":"203","IspName":"CUCC"}}`)
	})
	c := f.client(t, aliyun.Config{Mobile3Detail: true})
	if got := c.Action(provider.KindMobile3); got != aliyun.ActionMobile3Detail {
		t.Fatalf("Action = %s", got)
	}
	ans, err := c.Verify(context.Background(), request(provider.KindMobile3))
	if err != nil || ans.Class != provider.ClassMismatch || ans.Code != "2/203" || ans.Billing != provider.Billed {
		t.Fatalf("answer %+v, %v", ans, err)
	}
	if got := f.requests()[0].params["Action"]; got != aliyun.ActionMobile3Detail {
		t.Fatalf("sent Action %s", got)
	}
}

// TestReplayIsResignedAtOnce: a SignatureNonceUsed answer is re-signed with
// a fresh nonce and sent again within the same Verify, up to ReplayRetries.
func TestReplayIsResignedAtOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		retries  int
		replays  int // how many answers are SignatureNonceUsed
		requests int
		ok       bool
	}{
		{"default: one re-sign", 0, 1, 2, true},
		{"default: still replayed after one re-sign", 0, 5, 2, false},
		{"three re-signs", 3, 3, 4, true},
		{"none", -1, 1, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n <= tc.replays {
					reply(w, 400, `{"RequestId":"R","Code":"SignatureNonceUsed","Message":"Specified signature nonce was used already."}`)
				}
			})
			var clock atomic.Int64
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c := f.client(t, aliyun.Config{ReplayRetries: tc.retries, Now: func() time.Time {
				return start.Add(time.Duration(clock.Add(1)) * time.Second)
			}})
			ans, err := c.Verify(context.Background(), request(provider.KindIDCard))
			reqs := f.requests()
			if len(reqs) != tc.requests {
				t.Fatalf("%d requests, want %d", len(reqs), tc.requests)
			}
			if tc.ok {
				if err != nil || ans.Attempts != tc.requests {
					t.Fatalf("answer %+v, %v; want %d attempts", ans, err, tc.requests)
				}
			} else if provider.ClassOf(err) != provider.ClassReplay {
				t.Fatalf("err %v, want replay", err)
			}
			for i := 1; i < len(reqs); i++ {
				if reqs[i].params["SignatureNonce"] == reqs[i-1].params["SignatureNonce"] ||
					reqs[i].params["Timestamp"] == reqs[i-1].params["Timestamp"] || !reqs[i].sigOK {
					t.Fatalf("request %d was not re-signed with a fresh nonce and timestamp", i)
				}
			}
		})
	}
}

// TestClockSkew: InvalidTimeStamp.Expired carries the skew measured from
// the answer's Date header, or none without one.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	ours := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		date string // "" suppresses the header
		want time.Duration
	}{
		{"server ahead", ours.Add(20 * time.Minute).Format(http.TimeFormat), 20 * time.Minute},
		{"server behind", ours.Add(-16 * time.Minute).Format(http.TimeFormat), -16 * time.Minute},
		{"no Date header", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tc.date == "" {
					w.Header()["Date"] = nil
				} else {
					w.Header().Set("Date", tc.date)
				}
				reply(w, 400, `{"Code":"InvalidTimeStamp.Expired","Message":"Specified time stamp or date value is expired."}`)
			})
			c := f.client(t, aliyun.Config{Now: func() time.Time { return ours }})
			_, err := c.Verify(context.Background(), request(provider.KindBankCard4))
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Class != provider.ClassCredentials || pe.Code != "InvalidTimeStamp.Expired" {
				t.Fatalf("err %v", err)
			}
			if pe.ClockSkew != tc.want {
				t.Fatalf("ClockSkew %s, want %s", pe.ClockSkew, tc.want)
			}
			if !strings.Contains(err.Error(), "NTP") {
				t.Fatalf("%v lacks the clock hint", err)
			}
			checkNoPersonalData(t, err)
		})
	}
}

// TestTransport checks the class and billing of each way a call can fail
// to get an answer.
func TestTransport(t *testing.T) {
	t.Parallel()
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/"
	}
	cases := []struct {
		name     string
		respond  func(int, http.ResponseWriter, *http.Request)
		endpoint func(*testing.T) string
		method   string
		class    provider.Class
		billing  provider.Billing
		code     string
	}{
		{name: "connection refused", endpoint: refused, class: provider.ClassTransient, billing: provider.NotBilled},
		{name: "connection refused (GET)", endpoint: refused, method: "GET", class: provider.ClassTransient, billing: provider.NotBilled},
		{name: "hangs after reading the request", respond: func(_ int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			reply(w, 200, `{}`)
		}, class: provider.ClassTransient, billing: provider.PossiblyBilled},
		{name: "dropped after reading the request", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Written", "1")
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, class: provider.ClassTransient, billing: provider.PossiblyBilled},
		{name: "HTTP 503 without a body", respond: func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 503, "") },
			class: provider.ClassTransient, billing: provider.NotBilled, code: "http 503"},
		{name: "HTTP 502 with HTML", respond: func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 502, "<html>502</html>") },
			class: provider.ClassTransient, billing: provider.NotBilled, code: "http 502"},
		{name: "HTTP 200 that is not a cloudauth answer", respond: func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, 200, "<html>hi</html>") },
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200"},
		{name: "gateway 503", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			reply(w, 503, `{"Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}`)
		}, class: provider.ClassTransient, billing: provider.NotBilled, code: "ServiceUnavailable"},
		{name: "throttled", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			reply(w, 400, `{"Code":"Throttling.User","Message":"Request was denied due to user flow control."}`)
		}, class: provider.ClassThrottled, billing: provider.NotBilled, code: "Throttling.User"},
		{name: "no permission", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			reply(w, 403, `{"Code":"NoPermission","Message":"RAM caller has no permission"}`)
		}, class: provider.ClassCredentials, billing: provider.NotBilled, code: "NoPermission"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tc.respond)
			cfg := aliyun.Config{Method: tc.method, Timeout: 300 * time.Millisecond}
			if tc.endpoint != nil {
				cfg.Endpoint = tc.endpoint(t)
			}
			c := f.client(t, cfg)
			ans, err := c.Verify(context.Background(), request(provider.KindBankCard4))
			var pe *provider.Error
			if ans != nil || !errors.As(err, &pe) {
				t.Fatalf("answer %+v, err %v: want a *provider.Error", ans, err)
			}
			if pe.Class != tc.class || pe.Billing != tc.billing || pe.Code != tc.code {
				t.Fatalf("got %s/%s/%q, want %s/%s/%q (%v)", pe.Class, pe.Billing, pe.Code, tc.class, tc.billing, tc.code, err)
			}
			if provider.BillingOf(err) != tc.billing {
				t.Fatalf("BillingOf = %s", provider.BillingOf(err))
			}
			checkNoPersonalData(t, err)
		})
	}
}

// TestGETErrorHidesTheURL: with GET, the URL holds personal data and the
// signature; a transport error must not repeat it.
func TestGETErrorHidesTheURL(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := aliyun.New(aliyun.Config{AccessKeyID: keyID, AccessKeySecret: keySecret, Endpoint: "http://" + addr + "/", Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), request(provider.KindBankCard4))
	if err == nil || strings.Contains(err.Error(), "Signature") || strings.Contains(err.Error(), "%E5") {
		t.Fatalf("err %v", err)
	}
	checkNoPersonalData(t, err)
}

func TestTLSCertificateErrorNeedsAnOperator(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is the point
	srv.StartTLS()
	defer srv.Close()
	c, err := aliyun.New(aliyun.Config{AccessKeyID: keyID, AccessKeySecret: keySecret, Endpoint: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), request(provider.KindIDCard))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Class != provider.ClassCredentials || pe.Billing != provider.NotBilled || pe.Hint == "" {
		t.Fatalf("self-signed certificate: %v, want credentials with a hint", err)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()
	c, err := aliyun.New(aliyun.Config{AccessKeyID: keyID, AccessKeySecret: keySecret, Endpoint: redirect.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), request(provider.KindIDCard))
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Code != "http 302" || pe.Class != provider.ClassCredentials || hits.Load() != 0 {
		t.Fatalf("err %v, target hits %d: a redirect must not be followed", err, hits.Load())
	}
}

// TestDefinitiveRefusal: "too many repeated calls" is about the identity,
// and is an answer, not an error.
func TestDefinitiveRefusal(t *testing.T) {
	t.Parallel()
	f := setup(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, `{"RequestId":"R","Code":"403","Message":"异常重复调用"}`)
	})
	ans, err := f.client(t, aliyun.Config{}).Verify(context.Background(), request(provider.KindMobile3))
	if err != nil || ans.Class != provider.ClassIdentityLimit || ans.Code != "403" || ans.Billing != provider.NotBilled {
		t.Fatalf("answer %+v, %v", ans, err)
	}
}

func TestBadRequestIsNotSent(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	c := f.client(t, aliyun.Config{})
	for _, req := range []provider.Request{
		{Kind: "passport", Name: name, IDNumber: idNumber},
		{Kind: provider.KindIDCard, Name: name},
		{Kind: provider.KindMobile3, Name: name, IDNumber: idNumber},
		{Kind: provider.KindBankCard3, Name: name, IDNumber: idNumber, Phone: phone},
		{Kind: provider.KindBankCard4, Name: name, IDNumber: idNumber, BankCard: card},
	} {
		_, err := c.Verify(context.Background(), req)
		if provider.ClassOf(err) != provider.ClassBadRequest || provider.BillingOf(err) != provider.NotBilled {
			t.Errorf("%s: %v, want bad_request not billed", req.Kind, err)
		}
		checkNoPersonalData(t, err)
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.client(t, aliyun.Config{}).Verify(ctx, request(provider.KindIDCard))
	if !errors.Is(err, context.Canceled) || provider.ClassOf(err) != provider.ClassTransient || provider.BillingOf(err) != provider.NotBilled {
		t.Fatalf("err %v", err)
	}
}

func TestProviderMethods(t *testing.T) {
	t.Parallel()
	c, err := aliyun.New(aliyun.Config{AccessKeyID: keyID, AccessKeySecret: keySecret})
	if err != nil {
		t.Fatal(err)
	}
	var p provider.Provider = c
	if p.Name() != "aliyun" || aliyun.Name != "aliyun" {
		t.Fatalf("Name %q", p.Name())
	}
	want := map[provider.Kind]string{
		provider.KindIDCard: "Id2MetaVerify", provider.KindMobile3: "Mobile3MetaSimpleVerify",
		provider.KindBankCard3: "BankMetaVerify", provider.KindBankCard4: "BankMetaVerify",
	}
	for _, kind := range provider.Kinds {
		if got := p.Action(kind); got != want[kind] {
			t.Errorf("Action(%s) = %q, want %q", kind, got, want[kind])
		}
		if got := p.Quota(kind); got != 50 {
			t.Errorf("Quota(%s) = %d, want 50", kind, got)
		}
	}
	if p.Action("passport") != "" || p.Quota("passport") != 0 {
		t.Error("unknown kind has an action or a quota")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []aliyun.Config{
		{},
		{AccessKeyID: "a"},
		{AccessKeySecret: "the-secret"},
		{AccessKeyID: "a", AccessKeySecret: "the-secret", Method: "PUT"},
		{AccessKeyID: "a", AccessKeySecret: "the-secret", Endpoint: "ftp://x/"},
		{AccessKeyID: "a", AccessKeySecret: "the-secret", Endpoint: "://"},
		{AccessKeyID: "a", AccessKeySecret: "the-secret", Endpoint: "https://x/?a=b"},
		{AccessKeyID: "a", AccessKeySecret: "the-secret", Timeout: -time.Second},
	}
	for _, cfg := range cases {
		_, err := aliyun.New(cfg)
		if !errors.Is(err, aliyun.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
		if err != nil && strings.Contains(err.Error(), "the-secret") {
			t.Errorf("error reveals the secret: %v", err)
		}
	}
	for _, cfg := range []aliyun.Config{
		{AccessKeyID: "a", AccessKeySecret: "b"},
		{AccessKeyID: "a", AccessKeySecret: "b", Method: "get", Endpoint: "http://127.0.0.1:1"},
		{AccessKeyID: "a", AccessKeySecret: "b", Endpoint: "https://cloudauth.cn-shanghai.aliyuncs.com/"},
	} {
		if _, err := aliyun.New(cfg); err != nil {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}
