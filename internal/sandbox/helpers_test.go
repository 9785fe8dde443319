package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/realname-io/realname/internal/identity"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test credentials.
const (
	testID  = "AKIDsandboxTEST0000000000000000000001"
	testKey = "sandboxSecretKey0000000000000000"
	otherID = "AKIDsandboxTEST0000000000000000000002"
)

// testEpoch is the fake clock's start.
var testEpoch = time.Unix(1_700_000_000, 0)

// testSign is a deliberately separate, minimal v2 signer for the tests: the
// sandbox's own canonicaliser must agree with it.
func testSign(method, host, path string, params map[string]string, key, sigMethod string) string {
	keys := make([]string, 0, len(params))
	canon := make(map[string]string, len(params))
	for k, v := range params {
		if k == "Signature" {
			continue
		}
		ck := strings.ReplaceAll(k, "_", ".")
		keys = append(keys, ck)
		canon[ck] = v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + canon[k]
	}
	src := method + host + path + "?" + strings.Join(parts, "&")
	var h func() hash.Hash = sha1.New
	if sigMethod == "HmacSHA256" {
		h = sha256.New
	}
	mac := hmac.New(h, []byte(key))
	mac.Write([]byte(src))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bundle is what most tests need: a sandbox behind a loopback HTTP server, a
// client with its own transport, and the fake clock.
type bundle struct {
	srv    *Server
	ts     *httptest.Server
	client *http.Client
	clock  *fakeClock
}

// serve runs srv.Serve on a loopback listener, as `realname sandbox` does,
// and returns a bundle pointed at it. stop ends Serve and returns its
// error; calling it again returns nil.
func serve(t *testing.T, srv *Server) (b *bundle, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	tr := &http.Transport{}
	b = &bundle{srv: srv, ts: &httptest.Server{URL: "http://" + ln.Addr().String()}, client: &http.Client{Transport: tr}, clock: &fakeClock{t: time.Now()}}
	var once sync.Once
	stop = func() (err error) {
		once.Do(func() {
			tr.CloseIdleConnections()
			cancel()
			err = <-served
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return b, stop
}

// setup starts a sandbox for cfg. Credentials default to testID/testKey and
// otherID/testKey; Now defaults to a fake clock at testEpoch.
func setup(t *testing.T, cfg Config) *bundle {
	t.Helper()
	clock := &fakeClock{t: testEpoch}
	if cfg.Credentials == nil {
		cfg.Credentials = map[string]string{testID: testKey, otherID: testKey}
	}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv)
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
	})
	return &bundle{srv: srv, ts: ts, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, clock: clock}
}

var nonceSeq atomic.Uint64

func nextNonce() string { return strconv.FormatUint(nonceSeq.Add(1), 10) }

// call describes one request to the gateway.
type call struct {
	method    string // defaults to GET
	action    string
	business  map[string]string
	secretID  string // defaults to testID
	secretKey string // defaults to testKey
	sigMethod string // "" sends none (HmacSHA1)
	nonce     string // defaults to a fresh one
	timestamp string // defaults to the clock's now
	// edit changes the signed parameters before they are sent: tampering.
	edit func(url.Values)
	// unsigned, when set, is sent in place of everything.
	unsigned url.Values
}

// params returns the call's signed parameters.
func (b *bundle) params(c call) url.Values {
	if c.unsigned != nil {
		return c.unsigned
	}
	method := cmpOr(c.method, http.MethodGet)
	p := map[string]string{
		"Action":    c.action,
		"SecretId":  cmpOr(c.secretID, testID),
		"Nonce":     cmpOr(c.nonce, nextNonce()),
		"Timestamp": cmpOr(c.timestamp, strconv.FormatInt(b.clock.Now().Unix(), 10)),
		"Region":    "all",
	}
	if c.sigMethod != "" {
		p["SignatureMethod"] = c.sigMethod
	}
	for k, v := range c.business {
		p[k] = v
	}
	host := strings.TrimPrefix(b.ts.URL, "http://")
	p["Signature"] = testSign(method, host, "/v2/index.php", p, cmpOr(c.secretKey, testKey), c.sigMethod)
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	if c.edit != nil {
		c.edit(v)
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// do sends c and returns the HTTP status and the decoded body.
func (b *bundle) do(t *testing.T, c call) (int, response) {
	t.Helper()
	resp, err := b.send(c)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	var r response
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("decoding %s: %v", raw, err)
		}
	}
	return resp.StatusCode, r
}

// send sends c and returns the raw response.
func (b *bundle) send(c call) (*http.Response, error) {
	v := b.params(c)
	var req *http.Request
	var err error
	if cmpOr(c.method, http.MethodGet) == http.MethodPost {
		req, err = http.NewRequest(http.MethodPost, b.ts.URL+"/v2/index.php", strings.NewReader(v.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(http.MethodGet, b.ts.URL+"/v2/index.php?"+v.Encode(), nil)
	}
	if err != nil {
		return nil, err
	}
	return b.client.Do(req)
}

// answer sends c and fails unless it got a business answer; it returns the
// authCode.
func (b *bundle) answer(t *testing.T, c call) string {
	t.Helper()
	status, r := b.do(t, c)
	if status != http.StatusOK || r.Code != 0 || r.BspFivBody == nil {
		t.Fatalf("%s: got HTTP %d code %d %q, want a business answer", c.action, status, r.Code, r.Message)
	}
	if want := AuthMessage(r.BspFivBody.AuthCode); r.BspFivBody.AuthMessage != want {
		t.Errorf("authMessage = %q, want %q", r.BspFivBody.AuthMessage, want)
	}
	return r.BspFivBody.AuthCode
}

// Test identities: valid check digits, Luhn-valid cards.
var (
	aliceID   = withIDCheck("11010119900307123")
	aliceCard = withLuhn("622202100000000001")
	bobID     = withIDCheck("44030519851111002")
	bobCard   = withLuhn("621700123456789012")
)

func withIDCheck(first17 string) string {
	return first17 + string(identity.IDCheckDigit(first17))
}

func withLuhn(payload string) string {
	return payload + string(identity.LuhnCheckDigit(payload))
}

func business(action, orderNo, name, id, phone, card string) map[string]string {
	m := map[string]string{"orderNo": orderNo, "name": name, "idNumber": id}
	p, c := actionUses(action)
	if p {
		m["phoneNumber"] = phone
	}
	if c {
		m["bankCardNumber"] = card
	}
	return m
}
