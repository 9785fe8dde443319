// Package tencentv2 is a client for Tencent Cloud's 实名认证 API v2 (the
// csec.api.qcloud.com gateway): the four verification actions as typed
// requests, the v2 signature (HmacSHA1 or HmacSHA256, GET or POST), and one
// table that classifies every answer for the worker to act on.
//
// See ../../../shared/spec/tencent-v2.md for the protocol this package
// implements and the errata of Tencent's guide it corrects.
package tencentv2

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/transport"
)

// DefaultEndpoint is the v2 gateway of the 实名认证 actions.
const DefaultEndpoint = "https://csec.api.qcloud.com/v2/index.php"

// maxBody bounds how much of an answer is read: real answers are a few
// hundred bytes.
const maxBody = 64 << 10

// Config configures a Client. SecretID and SecretKey are required.
type Config struct {
	// SecretID identifies the API key (SecretId).
	SecretID string
	// SecretKey signs requests. It is never logged or put in an error.
	SecretKey string
	// Endpoint is the URL requests go to; its host and path are part of the
	// signed string. Defaults to DefaultEndpoint.
	Endpoint string
	// Region is sent as the Region parameter when set. Defaults to empty:
	// not sent, which the gateway reads as "all".
	Region string
	// Method is GET or POST (form body). Defaults to POST, as the guide
	// prescribes for these actions.
	Method string
	// SignatureMethod selects the HMAC. Defaults to HmacSHA1.
	SignatureMethod SignatureMethod
	// Timeout bounds one HTTP attempt, from dial to the last byte of the
	// answer. Defaults to 10s.
	Timeout time.Duration
	// ReplayRetries is how many times a replay answer (4500, 4200) is
	// re-signed with a fresh Nonce and Timestamp and sent again at once.
	// Defaults to 1; set a negative value for none.
	ReplayRetries int
	// HTTPClient sends the requests. Defaults to a client that does not
	// follow redirects; its own Timeout is left alone, Timeout above applies
	// per attempt in any case.
	HTTPClient *http.Client
	// Now returns the current time for Timestamp. Defaults to time.Now.
	Now func() time.Time
	// Nonce returns a random positive integer. Defaults to a crypto/rand
	// source.
	Nonce func() uint32
}

// Client calls the v2 gateway. It is safe for concurrent use.
type Client struct {
	cfg      Config
	method   string
	host     string
	path     string
	endpoint string
	hc       *http.Client
	attempts atomic.Int64
}

// Result is a definitive business answer.
type Result struct {
	// Action is the API action that answered.
	Action string
	// provider.Class is one of the definitive classes (provider.Class.Definitive is true).
	Class provider.Class
	// AuthCode is bspFivBody.authCode, e.g. "00".
	AuthCode string
	// Message is bspFivBody.authMessage, e.g. "认证通过".
	Message string
	// Attempts is the number of HTTP requests this call made (more than one
	// only after replay answers).
	Attempts int
}

// New returns a Client for cfg after filling in defaults and validating it.
func New(cfg Config) (*Client, error) {
	if cfg.SecretID == "" || cfg.SecretKey == "" {
		return nil, fmt.Errorf("%w: SecretID and SecretKey are required", ErrConfig)
	}
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	cfg.Method = strings.ToUpper(cmp.Or(cfg.Method, http.MethodPost))
	if cfg.Method != http.MethodGet && cfg.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: method %q: want GET or POST", ErrConfig, cfg.Method)
	}
	sm, err := ParseSignatureMethod(string(cfg.SignatureMethod))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	cfg.SignatureMethod = sm
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	if cfg.ReplayRetries == 0 {
		cfg.ReplayRetries = 1
	} else if cfg.ReplayRetries < 0 {
		cfg.ReplayRetries = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Nonce == nil {
		cfg.Nonce = randomNonce
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: endpoint %q is not an http(s) URL", ErrConfig, cfg.Endpoint)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = transport.NewClient()
	}
	return &Client{
		cfg:      cfg,
		method:   cfg.Method,
		host:     u.Host,
		path:     cmp.Or(u.Path, DefaultPath),
		endpoint: u.Scheme + "://" + u.Host + cmp.Or(u.Path, DefaultPath),
		hc:       hc,
	}, nil
}

// Attempts returns the number of HTTP requests this client has sent.
func (c *Client) Attempts() int64 { return c.attempts.Load() }

// Verify runs req. A definitive business answer is a *Result with a nil
// error. Anything else is an error: *APIError for a gateway answer,
// *TransportError when no answer could be read, or the context's error; use
// ClassOf to decide what to do. A replay answer is re-signed and sent again at
// once, up to Config.ReplayRetries times, before it is returned.
func (c *Client) Verify(ctx context.Context, req Request) (*Result, error) {
	attempts := 0
	for {
		attempts++
		res, err := c.attempt(ctx, req)
		if err != nil {
			if ClassOf(err) == provider.ClassReplay && attempts <= c.cfg.ReplayRetries && ctx.Err() == nil {
				continue
			}
			return nil, err
		}
		res.Attempts = attempts
		return res, nil
	}
}

// answer is the JSON body of a v2 answer.
type answer struct {
	Code       flexInt `json:"code"`
	CodeDesc   string  `json:"codeDesc"`
	Message    string  `json:"message"`
	Msg        string  `json:"msg"`
	BspFivBody *struct {
		AuthCode    string `json:"authCode"`
		AuthMessage string `json:"authMessage"`
	} `json:"bspFivBody"`
}

// flexInt accepts a JSON number or a string holding one: some gateways send
// "code": "5100".
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("code %q is not an integer", s)
	}
	*f = flexInt(n)
	return nil
}

// SignedParams returns the parameters of one attempt of req, signed with a
// fresh Nonce and Timestamp: everything that goes on the wire.
func (c *Client) SignedParams(req Request) map[string]string {
	params := req.businessParams()
	params[ParamAction] = req.Action()
	params[ParamSecretID] = c.cfg.SecretID
	params[ParamTimestamp] = strconv.FormatInt(c.cfg.Now().Unix(), 10)
	params[ParamNonce] = strconv.FormatUint(uint64(c.cfg.Nonce()), 10)
	if c.cfg.Region != "" {
		params[ParamRegion] = c.cfg.Region
	}
	if c.cfg.SignatureMethod != HmacSHA1 {
		params[ParamSignatureMethod] = string(c.cfg.SignatureMethod)
	}
	src := StringToSign(c.method, c.host, c.path, params)
	params[ParamSignature] = Sign(c.cfg.SecretKey, c.cfg.SignatureMethod, src)
	return params
}

func (c *Client) attempt(ctx context.Context, req Request) (*Result, error) {
	action := req.Action()
	form := url.Values{}
	for k, v := range c.SignedParams(req) {
		form.Set(k, v)
	}
	// url.Values.Encode escapes every value exactly once: "+" → %2B, "/" →
	// %2F, "=" → %3D, as the gateway expects of the signature.
	encoded := form.Encode()

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ctx, wrote := transport.TraceWrite(ctx)

	var hreq *http.Request
	var err error
	if c.method == http.MethodGet {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"?"+encoded, nil)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(encoded))
		if err == nil {
			hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tencent %s: build request: %w", action, err)
	}
	hreq.Header.Set("Accept", "application/json")

	c.attempts.Add(1)
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, &TransportError{Action: action, PossiblyBilled: wrote(), Class: transportClass(err), Err: transport.RedactURL(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &TransportError{Action: action, StatusCode: resp.StatusCode, PossiblyBilled: true, Class: transportClass(err), Err: transport.RedactURL(err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &TransportError{Action: action, StatusCode: resp.StatusCode, Class: classifyHTTPStatus(resp.StatusCode)}
	}
	return parseAnswer(action, body)
}

// parseAnswer turns a 200 answer's body into a Result or an error.
func parseAnswer(action string, body []byte) (*Result, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		// An empty or non-JSON body from a 200 is a broken gateway or proxy:
		// transient, and possibly billed since the request did arrive.
		return nil, &TransportError{Action: action, StatusCode: http.StatusOK, PossiblyBilled: true, Class: provider.ClassTransient,
			Err: errors.New("answer is not a v2 JSON body")}
	}
	if a.Code != 0 {
		msg := a.Message
		if msg == "" {
			msg = a.Msg
		}
		return nil, &APIError{Action: action, Code: int(a.Code), Message: transport.Scrub(msg), Class: ClassifyGatewayCode(int(a.Code))}
	}
	if a.BspFivBody == nil {
		return nil, &TransportError{Action: action, StatusCode: http.StatusOK, PossiblyBilled: true, Class: provider.ClassTransient,
			Err: errors.New("code 0 without bspFivBody")}
	}
	class := ClassifyAuthCode(a.BspFivBody.AuthCode)
	if !class.Definitive() {
		return nil, &APIError{Action: action, AuthCode: transport.Scrub(a.BspFivBody.AuthCode), Message: transport.Scrub(a.BspFivBody.AuthMessage), Class: class}
	}
	return &Result{Action: action, Class: class, AuthCode: a.BspFivBody.AuthCode, Message: a.BspFivBody.AuthMessage}, nil
}

// transportClass classifies an error of http.Client.Do or of reading the
// body. A certificate that does not verify needs a person; everything else
// (refused, reset, timeouts, other TLS failures) is transient.
func transportClass(err error) provider.Class {
	if transport.CertificateError(err) {
		return provider.ClassCredentials
	}
	return provider.ClassTransient
}

// randomNonce returns a uniformly random integer in [1, 2^31-1].
func randomNonce() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if n := binary.BigEndian.Uint32(b[:]) & 0x7fffffff; n != 0 {
			return n
		}
	}
}
