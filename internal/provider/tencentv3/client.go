// Package tencentv3 is a provider.Provider for Tencent Cloud API 3.0,
// product faceid (人脸核身), version 2018-03-01: the four element checks
// (IdCardVerification, PhoneVerification, BankCardVerification,
// BankCard4EVerification), signed with TC3-HMAC-SHA256, and one table per
// action that classifies every answer for the worker to act on.
//
// Accounts opened in recent years can no longer call the v2 gateway of
// package tencentv2; this package is their way in. It signs by hand with
// crypto/hmac rather than through tencentcloud-sdk-go: the module proxy does
// not serve the SDK's faceid module on its own, and the signature is a few
// lines that sign_test.go proves against Tencent's published vectors.
//
// See ../../../shared/spec/tencent-v3-faceid.md for the protocol.
package tencentv3

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/transport"
)

// Name is the provider's name in results, metrics and configuration.
const Name = "tencent-v3"

// Protocol constants of faceid 2018-03-01.
const (
	// DefaultEndpoint is faceid's nearest-region endpoint.
	DefaultEndpoint = "https://faceid.tencentcloudapi.com/"
	// Service is the service name in the credential scope; it stays
	// "faceid" whatever host the endpoint names (a sandbox on loopback).
	Service = "faceid"
	// Version is the API version sent as X-TC-Version.
	Version = "2018-03-01"
	// ContentType is the body's content type, signed byte for byte.
	ContentType = "application/json; charset=utf-8"
)

// The four actions, sent as X-TC-Action.
const (
	// ActionIDCard verifies name + ID number (provider.KindIDCard).
	ActionIDCard = "IdCardVerification"
	// ActionPhone verifies name + ID number + mobile (provider.KindMobile3).
	ActionPhone = "PhoneVerification"
	// ActionBankCard3 verifies name + ID number + bank card
	// (provider.KindBankCard3).
	ActionBankCard3 = "BankCardVerification"
	// ActionBankCard4 verifies name + ID number + bank card + the card's
	// reserved mobile (provider.KindBankCard4).
	ActionBankCard4 = "BankCard4EVerification"
)

// maxBody bounds how much of an answer is read: real answers are a few
// hundred bytes.
const maxBody = 64 << 10

// ErrConfig is matched by every configuration error New returns.
var ErrConfig = errors.New("tencentv3: invalid configuration")

// Config configures a Client. SecretID and SecretKey are required.
type Config struct {
	// SecretID identifies the API key (SecretId).
	SecretID string
	// SecretKey signs requests. It is never logged or put in an error.
	SecretKey string
	// Token is the session token of temporary (STS) credentials, sent as
	// X-TC-Token. Defaults to empty: not sent, as for a permanent key.
	Token string
	// Endpoint is the URL requests are POSTed to; its host is signed, so an
	// http://127.0.0.1:PORT/ sandbox works as well as Tencent. Defaults to
	// DefaultEndpoint.
	Endpoint string
	// Region is sent as X-TC-Region when set. Defaults to empty: not sent,
	// as the four actions do not need it.
	Region string
	// VerifyMode is PhoneVerification's VerifyMode: "0" (simple) or "1"
	// (detailed: a mismatch says which part differs). Defaults to "0".
	VerifyMode string
	// Timeout bounds one HTTP attempt, from dial to the last byte of the
	// answer. Defaults to 10s.
	Timeout time.Duration
	// HTTPClient sends the requests. Defaults to a client that does not
	// follow redirects; Timeout above applies per attempt in any case.
	HTTPClient *http.Client
	// Now returns the current time for X-TC-Timestamp and for measuring
	// clock skew. Defaults to time.Now.
	Now func() time.Time
}

// Client calls faceid. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	host     string
	path     string
	hc       *http.Client
	attempts atomic.Int64
}

var _ provider.Provider = (*Client)(nil)

// New returns a Client for cfg after filling in defaults and validating it.
func New(cfg Config) (*Client, error) {
	if cfg.SecretID == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("%w: SecretID and SecretKey are required", ErrConfig)
	}
	// A key pasted with a space or newline fails as
	// AuthFailure.SecretIdNotFound at the first call; say so at start-up.
	if strings.ContainsAny(cfg.SecretID, " \t\r\n,/;=") || strings.TrimSpace(cfg.SecretKey) != cfg.SecretKey {
		return nil, fmt.Errorf("%w: SecretID or SecretKey contains whitespace or a separator", ErrConfig)
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return nil, fmt.Errorf("%w: Token contains a line break", ErrConfig)
	}
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: endpoint %q is not an http(s) URL without query", ErrConfig, cfg.Endpoint)
	}
	cfg.VerifyMode = cmp.Or(cfg.VerifyMode, "0")
	if cfg.VerifyMode != "0" && cfg.VerifyMode != "1" {
		return nil, fmt.Errorf("%w: VerifyMode %q: want \"0\" or \"1\"", ErrConfig, cfg.VerifyMode)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative Timeout", ErrConfig)
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = transport.NewClient()
	}
	host := strings.ToLower(u.Host)
	path := cmp.Or(u.EscapedPath(), "/")
	return &Client{
		cfg:      cfg,
		endpoint: u.Scheme + "://" + host + path,
		host:     host,
		path:     path,
		hc:       hc,
	}, nil
}

// Name implements provider.Provider.
func (c *Client) Name() string { return Name }

// Action implements provider.Provider; it is "" for a kind it does not
// know.
func (c *Client) Action(kind provider.Kind) string {
	switch kind {
	case provider.KindIDCard:
		return ActionIDCard
	case provider.KindMobile3:
		return ActionPhone
	case provider.KindBankCard3:
		return ActionBankCard3
	case provider.KindBankCard4:
		return ActionBankCard4
	}
	return ""
}

// Quota implements provider.Provider with Tencent's documented limits:
// 100 calls/s for IdCardVerification, 20 for the other three.
func (c *Client) Quota(kind provider.Kind) int {
	switch kind {
	case provider.KindIDCard:
		return 100
	case provider.KindMobile3, provider.KindBankCard3, provider.KindBankCard4:
		return 20
	}
	return 0
}

// Attempts returns the number of HTTP requests this client has sent.
func (c *Client) Attempts() int64 { return c.attempts.Load() }

// The request bodies, one per action, with the field names of the API.
// CertType is an integer the API requires for the bank actions; 0 is the
// resident ID card, the only document our requests carry.
type (
	idCardBody struct {
		IDCard string `json:"IdCard"`
		Name   string `json:"Name"`
	}
	phoneBody struct {
		IDCard     string `json:"IdCard"`
		Name       string `json:"Name"`
		Phone      string `json:"Phone"`
		VerifyMode string `json:"VerifyMode"`
	}
	bankCard3Body struct {
		IDCard   string `json:"IdCard"`
		Name     string `json:"Name"`
		BankCard string `json:"BankCard"`
		CertType int    `json:"CertType"`
	}
	bankCard4Body struct {
		Name     string `json:"Name"`
		BankCard string `json:"BankCard"`
		Phone    string `json:"Phone"`
		IDCard   string `json:"IdCard"`
		CertType int    `json:"CertType"`
	}
)

// body returns the JSON body of req. Its error names the missing field,
// never a value.
func (c *Client) body(req provider.Request) ([]byte, error) {
	var missing []string
	need := func(field, v string) string {
		if v == "" {
			missing = append(missing, field)
		}
		return v
	}
	var v any
	switch req.Kind {
	case provider.KindIDCard:
		v = idCardBody{IDCard: need("IDNumber", req.IDNumber.Reveal()), Name: need("Name", req.Name.Reveal())}
	case provider.KindMobile3:
		v = phoneBody{IDCard: need("IDNumber", req.IDNumber.Reveal()), Name: need("Name", req.Name.Reveal()),
			Phone: need("Phone", req.Phone.Reveal()), VerifyMode: c.cfg.VerifyMode}
	case provider.KindBankCard3:
		v = bankCard3Body{IDCard: need("IDNumber", req.IDNumber.Reveal()), Name: need("Name", req.Name.Reveal()),
			BankCard: need("BankCard", req.BankCard.Reveal())}
	case provider.KindBankCard4:
		v = bankCard4Body{Name: need("Name", req.Name.Reveal()), BankCard: need("BankCard", req.BankCard.Reveal()),
			Phone: need("Phone", req.Phone.Reveal()), IDCard: need("IDNumber", req.IDNumber.Reveal())}
	default:
		return nil, fmt.Errorf("unknown kind %q", transport.Scrub(string(req.Kind)))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("request of kind %s lacks %s", req.Kind, strings.Join(missing, ", "))
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings and an int: cannot fail, and json's error would not
		// carry a value anyway.
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b, nil
}

// Verify implements provider.Provider. It makes exactly one HTTP request:
// no v3 answer calls for re-signing at once, and the worker owns retries.
func (c *Client) Verify(ctx context.Context, req provider.Request) (*provider.Answer, error) {
	action := c.Action(req.Kind)
	body, err := c.body(req)
	if err != nil {
		return nil, &provider.Error{Provider: Name, Action: action, Class: provider.ClassBadRequest, Billing: provider.NotBilled, Err: err}
	}
	return c.attempt(ctx, action, body)
}

// sign returns the headers of one attempt, signed at the current time.
func (c *Client) sign(action string, body []byte) http.Header {
	ts := c.cfg.Now().Unix()
	canonical, signed := CanonicalRequest(http.MethodPost, c.path, "", map[string]string{
		"content-type": ContentType,
		"host":         c.host,
	}, body)
	sig := Signature(c.cfg.SecretKey, ts, Service, StringToSign(ts, Service, canonical))

	h := http.Header{}
	h.Set("Content-Type", ContentType)
	h.Set("X-TC-Action", action)
	h.Set("X-TC-Version", Version)
	h.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	h.Set("Authorization", Authorization(c.cfg.SecretID, ts, Service, signed, sig))
	h.Set("Accept", "application/json")
	if c.cfg.Region != "" {
		h.Set("X-TC-Region", c.cfg.Region)
	}
	if c.cfg.Token != "" {
		h.Set("X-TC-Token", c.cfg.Token)
	}
	return h
}

func (c *Client) attempt(ctx context.Context, action string, body []byte) (*provider.Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// The request may have been billed exactly when it was written in full:
	// before that, Tencent cannot have run the action.
	ctx, wrote := transport.TraceWrite(ctx)

	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, &provider.Error{Provider: Name, Action: action, Class: provider.ClassCredentials, Billing: provider.NotBilled,
			Err: fmt.Errorf("build request: %w", transport.RedactURL(err)), Hint: "check the Endpoint"}
	}
	hreq.Header = c.sign(action, body)
	hreq.Host = c.host

	c.attempts.Add(1)
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, transportError(action, err, wrote())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, transportError(action, err, true)
	}
	ans, err := parseAnswer(action, resp.StatusCode, resp.Header.Get("Date"), c.cfg.Now(), raw)
	if ans != nil {
		ans.Attempts = 1
	}
	return ans, err
}

// transportError is the error of a call that got no HTTP answer (or lost
// it half-way). A certificate that does not verify needs a person;
// everything else (refused, reset, timeouts, other TLS failures) is
// transient.
func transportError(action string, err error, wrote bool) *provider.Error {
	e := &provider.Error{Provider: Name, Action: action, Class: provider.ClassTransient, Billing: provider.NotBilled, Err: transport.RedactURL(err)}
	if wrote {
		e.Billing = provider.PossiblyBilled
	}
	if transport.CertificateError(err) {
		e.Class = provider.ClassCredentials
		e.Hint = "the endpoint's TLS certificate does not verify: check the Endpoint host, the CA certificates of this machine, or an intercepting proxy"
	}
	return e
}

// envelope is the JSON body of every v3 answer. Result is a string in the
// API; a body that sends anything else is not a v3 answer.
type envelope struct {
	Response *struct {
		Result       *string `json:"Result"`
		Description  string  `json:"Description"`
		ResultDetail string  `json:"ResultDetail"`
		RequestID    string  `json:"RequestId"`
		Error        *struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
	} `json:"Response"`
}

// parseAnswer turns an HTTP answer into a definitive *provider.Answer or a
// *provider.Error. date is the answer's Date header and now our clock when
// it arrived, for the clock skew of AuthFailure.SignatureExpire.
func parseAnswer(action string, status int, date string, now time.Time, body []byte) (*provider.Answer, error) {
	var env envelope
	isV3 := json.Unmarshal(body, &env) == nil && env.Response != nil

	// An error body wins whatever the status: its code says more than the
	// status does.
	if isV3 && env.Response.Error != nil && env.Response.Error.Code != "" {
		r := env.Response
		row := ClassifyError(r.Error.Code)
		e := &provider.Error{Provider: Name, Action: action, Class: row.Class, Code: scrubCode(r.Error.Code),
			Message: withRequestID(transport.Scrub(r.Error.Message), r.RequestID), Hint: row.Hint, Billing: provider.NotBilled}
		if r.Error.Code == "AuthFailure.SignatureExpire" {
			e.ClockSkew = transport.ClockSkew(date, now)
		}
		return nil, e
	}

	if status != http.StatusOK {
		row := classifyHTTPStatus(status)
		return nil, &provider.Error{Provider: Name, Action: action, Class: row.Class, Code: "http " + strconv.Itoa(status),
			Hint: row.Hint, Billing: provider.NotBilled}
	}

	if !isV3 || env.Response.Result == nil {
		// A 200 that is not a v3 answer comes from a broken gateway or
		// proxy after the request arrived: transient, and possibly billed.
		return nil, &provider.Error{Provider: Name, Action: action, Class: provider.ClassTransient, Code: "http 200",
			Billing: provider.PossiblyBilled, Err: errors.New("answer is not a v3 Response with a Result or an Error")}
	}

	r := env.Response
	result := *r.Result
	row := ClassifyResult(action, result)
	msg := transport.Scrub(r.Description)
	if r.ResultDetail != "" {
		msg += " (" + transport.Scrub(r.ResultDetail) + ")"
	}
	if !row.Class.Definitive() {
		return nil, &provider.Error{Provider: Name, Action: action, Class: row.Class, Code: scrubCode(result),
			Message: withRequestID(cmp.Or(msg, row.Description), r.RequestID), Billing: row.Billing}
	}
	return &provider.Answer{Provider: Name, Action: action, Class: row.Class, Code: result,
		Message: cmp.Or(msg, row.Description), Billing: row.Billing}, nil
}

// scrubCode bounds a code from the wire that the tables did not know (real
// codes are short) and scrubs it like a message.
func scrubCode(code string) string {
	const maxLen = 64
	code = transport.Scrub(code)
	if len(code) > maxLen {
		code = strings.ToValidUTF8(code[:maxLen], "") + "…"
	}
	return code
}

// requestIDPattern is the shape of Tencent's RequestId, a UUID. Anything
// else is dropped rather than copied into an error.
var requestIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// withRequestID appends the RequestId an operator quotes to Tencent's
// support. One that scrubbing would change (a UUID can only change by a
// long digit run) is left out: scrubbed, it would be useless, and it would
// be the one place such a run reached an error.
func withRequestID(msg, id string) string {
	if !requestIDPattern.MatchString(id) || transport.Scrub(id) != id {
		return msg
	}
	if msg == "" {
		return "RequestId " + id
	}
	return msg + " (RequestId " + id + ")"
}
