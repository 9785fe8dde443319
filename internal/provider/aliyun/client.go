// Package aliyun is a client for Alibaba Cloud's cloudauth element checks
// (API version 2019-03-07, RPC style): Id2MetaVerify, Mobile3MetaSimpleVerify
// (or Mobile3MetaDetailVerify) and BankMetaVerify, signed with signature
// version 1.0 (HMAC-SHA1), sent by GET or POST, each answer classified
// through the tables of classify.go for the worker to act on.
//
// The client is written by hand rather than on alibaba-cloud-sdk-go: the
// SDK's calls take no context, its HTTP client follows redirects, and it
// cannot tell a request that was sent from one that was not, which is what
// decides whether a failed call may have been billed.
//
// See ../../../shared/spec/aliyun-cloudauth.md for the protocol.
package aliyun

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/transport"
)

// Name is the provider's name in results, metrics and configuration.
const Name = "aliyun"

// DefaultEndpoint is cloudauth's central endpoint. The regional ones,
// https://cloudauth.cn-shanghai.aliyuncs.com/ and
// https://cloudauth.cn-beijing.aliyuncs.com/, answer the same actions.
const DefaultEndpoint = "https://cloudauth.aliyuncs.com/"

// APIVersion is the cloudauth API version every request names.
const APIVersion = "2019-03-07"

// The actions this client calls, one per kind; mobile3 has two.
const (
	// ActionIDCard checks name + ID number.
	ActionIDCard = "Id2MetaVerify"
	// ActionMobile3 checks name + ID number + mobile.
	ActionMobile3 = "Mobile3MetaSimpleVerify"
	// ActionMobile3Detail checks name + ID number + mobile and says which
	// element does not match (SubCode).
	ActionMobile3Detail = "Mobile3MetaDetailVerify"
	// ActionBankCard checks name + ID number + bank card (+ reserved mobile).
	ActionBankCard = "BankMetaVerify"
)

// quota is the documented limit of every action: 50 requests per second
// per account.
const quota = 50

// maxBody bounds how much of an answer is read: real answers are a few
// hundred bytes.
const maxBody = 64 << 10

// Config configures a Client. AccessKeyID and AccessKeySecret are required.
type Config struct {
	// AccessKeyID identifies the AccessKey (AccessKeyId). Required.
	AccessKeyID string
	// AccessKeySecret signs requests. Required; never logged or put in an
	// error.
	AccessKeySecret string
	// Endpoint is the URL requests go to. Defaults to DefaultEndpoint. Its
	// path is not signed: the RPC signature always signs "/".
	Endpoint string
	// Method is GET (every parameter in the query string) or POST (every
	// parameter in an application/x-www-form-urlencoded body). Defaults to
	// POST, which keeps personal data out of URLs and so out of access
	// logs, and which net/http never resends on its own.
	Method string
	// Mobile3Detail makes KindMobile3 call Mobile3MetaDetailVerify, whose
	// answers say which element does not match. Defaults to false:
	// Mobile3MetaSimpleVerify.
	Mobile3Detail bool
	// Timeout bounds one HTTP attempt, from dial to the last byte of the
	// answer. Defaults to 10s.
	Timeout time.Duration
	// ReplayRetries is how many times a SignatureNonceUsed answer is
	// re-signed with a fresh SignatureNonce and Timestamp and sent again at
	// once, within the same Verify. Defaults to 1; set a negative value for
	// none.
	ReplayRetries int
	// HTTPClient sends the requests. Defaults to a client that does not
	// follow redirects; Timeout above applies per attempt in any case.
	HTTPClient *http.Client
	// Now returns the current time, for Timestamp and to measure clock
	// skew. Defaults to time.Now.
	Now func() time.Time
	// Nonce returns a SignatureNonce, unique per request. Defaults to a
	// random UUID (version 4) from crypto/rand.
	Nonce func() string
}

// Client calls cloudauth. It implements provider.Provider and is safe for
// concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	hc       *http.Client
}

var _ provider.Provider = (*Client)(nil)

// New returns a Client for cfg after filling in defaults and validating it.
func New(cfg Config) (*Client, error) {
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" {
		return nil, fmt.Errorf("%w: AccessKeyID and AccessKeySecret are required", ErrConfig)
	}
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	cfg.Method = strings.ToUpper(cmp.Or(cfg.Method, http.MethodPost))
	if cfg.Method != http.MethodGet && cfg.Method != http.MethodPost {
		return nil, fmt.Errorf("%w: method %q: want GET or POST", ErrConfig, cfg.Method)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout %s", ErrConfig, cfg.Timeout)
	}
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
		cfg.Nonce = randomUUID
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: endpoint %q is not an http(s) URL without query", ErrConfig, cfg.Endpoint)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = transport.NewClient()
	}
	return &Client{cfg: cfg, endpoint: u.String(), hc: hc}, nil
}

// Name implements provider.Provider: "aliyun".
func (c *Client) Name() string { return Name }

// Action implements provider.Provider. Both bank card kinds call
// BankMetaVerify, with ProductType telling them apart. It returns "" for an
// unknown kind.
func (c *Client) Action(kind provider.Kind) string {
	switch kind {
	case provider.KindIDCard:
		return ActionIDCard
	case provider.KindMobile3:
		if c.cfg.Mobile3Detail {
			return ActionMobile3Detail
		}
		return ActionMobile3
	case provider.KindBankCard3, provider.KindBankCard4:
		return ActionBankCard
	}
	return ""
}

// Quota implements provider.Provider: cloudauth documents 50 requests per
// second per action and account.
func (c *Client) Quota(kind provider.Kind) int {
	if c.Action(kind) == "" {
		return 0
	}
	return quota
}

// Verify implements provider.Provider. A definitive answer is an
// *provider.Answer; anything else is a *provider.Error. A SignatureNonceUsed
// answer is re-signed and sent again at once, up to Config.ReplayRetries
// times, before it is returned.
func (c *Client) Verify(ctx context.Context, req provider.Request) (*provider.Answer, error) {
	action := c.Action(req.Kind)
	business, err := businessParams(req)
	if err != nil {
		// Nothing was sent: the request is ours to fix.
		return nil, &provider.Error{Provider: Name, Action: action, Class: provider.ClassBadRequest, Message: err.Error()}
	}
	redact := []string{req.Name.Reveal(), req.IDNumber.Reveal(), req.Phone.Reveal(), req.BankCard.Reveal(), c.cfg.AccessKeySecret}
	for attempts := 1; ; attempts++ {
		ans, err := c.attempt(ctx, action, business, redact)
		if err == nil {
			ans.Attempts = attempts
			return ans, nil
		}
		if provider.ClassOf(err) == provider.ClassReplay && attempts <= c.cfg.ReplayRetries && ctx.Err() == nil {
			continue
		}
		return nil, err
	}
}

// businessParams returns the action's own parameters for req, exactly as
// the spec lists them, or an error naming (never showing) what is missing.
func businessParams(req provider.Request) (map[string]string, error) {
	need := func(field, v string) error {
		if v == "" {
			return fmt.Errorf("%s request without %s", req.Kind, field)
		}
		return nil
	}
	if err := errors.Join(need("name", req.Name.Reveal()), need("ID number", req.IDNumber.Reveal())); err != nil {
		return nil, err
	}
	p := map[string]string{
		"ParamType":   "normal",
		"UserName":    req.Name.Reveal(),
		"IdentifyNum": req.IDNumber.Reveal(),
	}
	switch req.Kind {
	case provider.KindIDCard:
	case provider.KindMobile3:
		if err := need("phone", req.Phone.Reveal()); err != nil {
			return nil, err
		}
		p["Mobile"] = req.Phone.Reveal()
	case provider.KindBankCard3, provider.KindBankCard4:
		if err := need("bank card", req.BankCard.Reveal()); err != nil {
			return nil, err
		}
		p["VerifyMode"] = "VERIFY_BANK_CARD"
		p["ProductType"] = "BANK_CARD_3_META"
		p["BankCard"] = req.BankCard.Reveal()
		p["IdentityType"] = "01" // resident identity card
		if req.Kind == provider.KindBankCard4 {
			if err := need("phone", req.Phone.Reveal()); err != nil {
				return nil, err
			}
			p["ProductType"] = "BANK_CARD_4_META"
			p["Mobile"] = req.Phone.Reveal()
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", req.Kind)
	}
	return p, nil
}

// signedParams returns every parameter of one attempt: business, the
// common parameters with a fresh SignatureNonce and Timestamp, and the
// Signature over them for the configured method.
func (c *Client) signedParams(action string, business map[string]string) map[string]string {
	p := make(map[string]string, len(business)+10)
	for k, v := range business {
		p[k] = v
	}
	p["AccessKeyId"] = c.cfg.AccessKeyID
	p["Action"] = action
	p["Format"] = "JSON"
	p["SignatureMethod"] = "HMAC-SHA1"
	p["SignatureNonce"] = c.cfg.Nonce()
	p["SignatureVersion"] = "1.0"
	p["Timestamp"] = c.cfg.Now().UTC().Format("2006-01-02T15:04:05Z")
	p["Version"] = APIVersion
	p[ParamSignature] = Sign(c.cfg.AccessKeySecret, StringToSign(c.cfg.Method, p))
	return p
}

func (c *Client) attempt(ctx context.Context, action string, business map[string]string, redact []string) (*provider.Answer, error) {
	// Encoded once, by the same encoder that built the signed string: the
	// base64 signature's "+", "/" and "=" arrive as %2B, %2F and %3D.
	encoded := encode(c.signedParams(action, business), true)

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ctx, wrote := transport.TraceWrite(ctx)
	var hreq *http.Request
	var err error
	if c.cfg.Method == http.MethodGet {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"?"+encoded, nil)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(encoded))
		if err == nil {
			hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, &provider.Error{Provider: Name, Action: action, Class: provider.ClassBadRequest, Message: "could not build the request", Err: transport.RedactURL(err)}
	}
	hreq.Header.Set("Accept", "application/json")

	resp, err := c.hc.Do(hreq)
	if err != nil {
		o := transportOutcome(err)
		billing := provider.NotBilled
		if wrote() {
			billing = provider.PossiblyBilled
		}
		return nil, &provider.Error{Provider: Name, Action: action, Class: o.Class, Hint: o.Hint, Billing: billing, Err: transport.RedactURL(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &provider.Error{Provider: Name, Action: action, Class: transportOutcome(err).Class, Billing: provider.PossiblyBilled,
			Message: fmt.Sprintf("reading the HTTP %d answer failed", resp.StatusCode), Err: transport.RedactURL(err)}
	}
	return parseAnswer(answerIn{
		action: action,
		status: resp.StatusCode,
		date:   resp.Header.Get("Date"),
		now:    c.cfg.Now(),
		body:   body,
		redact: redact,
	})
}

// answerIn is an HTTP answer to one attempt, and what parsing it needs.
type answerIn struct {
	action string
	status int
	date   string    // the Date header, for the clock skew
	now    time.Time // our clock when the answer arrived
	body   []byte
	redact []string // the request's personal data and secret
}

// wireAnswer is the JSON body of every cloudauth answer: a business answer
// (Code "200" with ResultObject), a service refusal (another numeric Code)
// or a gateway error (a dotted name as Code).
type wireAnswer struct {
	RequestID    string     `json:"RequestId"`
	Code         flexString `json:"Code"`
	Message      string     `json:"Message"`
	ResultObject *struct {
		BizCode flexString `json:"BizCode"`
		SubCode flexString `json:"SubCode"`
	} `json:"ResultObject"`
}

// flexString accepts a JSON string or number: answers have been seen with
// "Code": 200 as well as "Code": "200".
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %.20q", b)
	}
	*f = flexString(n)
	return nil
}

// parseAnswer turns an HTTP answer into an *provider.Answer or a
// *provider.Error.
func parseAnswer(in answerIn) (*provider.Answer, error) {
	var w wireAnswer
	if err := json.Unmarshal(in.body, &w); err != nil || w.Code == "" {
		return nil, httpError(in)
	}
	code := string(w.Code)
	if code == "200" {
		if in.status != http.StatusOK {
			return nil, httpError(in)
		}
		return bizAnswer(in, w)
	}

	o, known := ClassifyErrorCode(code)
	if o.Class.Definitive() && o.Class != provider.ClassBadRequest {
		// A refusal that is an answer about the identity (too many
		// repeated calls): final, stored like any other answer.
		return &provider.Answer{Provider: Name, Action: in.action, Class: o.Class, Code: code, Message: o.Description, Billing: o.Billing}, nil
	}
	msg := w.Message
	if msg == "" {
		msg = o.Description
	}
	if w.RequestID != "" {
		msg += " (RequestId " + w.RequestID + ")"
	}
	e := &provider.Error{
		Provider: Name, Action: in.action, Class: o.Class, Code: scrub(code, in.redact),
		Message: scrub(msg, in.redact), Hint: o.Hint, Billing: o.Billing,
	}
	if !known {
		e.Message = scrub(fmt.Sprintf("HTTP %d: %s", in.status, msg), in.redact)
	}
	if strings.HasPrefix(code, "InvalidTimeStamp") {
		e.ClockSkew = transport.ClockSkew(in.date, in.now)
	}
	return nil, e
}

// bizAnswer classifies a Code 200 answer by its BizCode and SubCode.
func bizAnswer(in answerIn, w wireAnswer) (*provider.Answer, error) {
	if w.ResultObject == nil || w.ResultObject.BizCode == "" {
		return nil, &provider.Error{Provider: Name, Action: in.action, Class: provider.ClassTransient, Code: "200",
			Message: "Code 200 without ResultObject.BizCode", Billing: provider.PossiblyBilled}
	}
	code := string(w.ResultObject.BizCode)
	if w.ResultObject.SubCode != "" {
		code += "/" + string(w.ResultObject.SubCode)
	}
	o, known := ClassifyBizCode(in.action, code)
	if !known || !o.Class.Definitive() {
		msg := "BizCode/SubCode not in the table"
		if w.Message != "" {
			msg += ": " + w.Message
		}
		return nil, &provider.Error{Provider: Name, Action: in.action, Class: o.Class, Code: scrub(code, in.redact),
			Message: scrub(msg, in.redact), Billing: o.Billing}
	}
	return &provider.Answer{Provider: Name, Action: in.action, Class: o.Class, Code: code, Message: o.Description, Billing: o.Billing}, nil
}

// httpError is the error of an HTTP answer whose body is not a cloudauth
// answer.
func httpError(in answerIn) *provider.Error {
	o := classifyHTTPStatus(in.status)
	return &provider.Error{Provider: Name, Action: in.action, Class: o.Class, Code: fmt.Sprintf("http %d", in.status),
		Message: o.Description, Hint: o.Hint, Billing: o.Billing}
}

// randomUUID returns a random (version 4) UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
