package sandbox

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Alibaba Cloud RPC constants of cloudauth.
const (
	rpcAccessKeyID = "AccessKeyId"
	rpcSignature   = "Signature"
	rpcVersion     = "2019-03-07"
	rpcSigMethod   = "HMAC-SHA1"
	rpcSigVersion  = "1.0"
	rpcTimeLayout  = "2006-01-02T15:04:05Z"
	// rpcWindow is both the largest allowed difference between Timestamp
	// and the sandbox's clock and how long a SignatureNonce is remembered,
	// as the real gateway's.
	rpcWindow = 15 * time.Minute
)

// rpcCommon are the required common parameters, in the order a missing one
// is reported. Format is optional (JSON is the only one answered).
var rpcCommon = []string{rpcAccessKeyID, "Action", "Version", "Timestamp", "SignatureMethod", "SignatureVersion", "SignatureNonce", rpcSignature}

// rpcErr is an error answer: a gateway error (status 4xx/5xx, with HostId
// and Recommend) or, with status 200, a service Code other than 200.
type rpcErr struct {
	status  int
	code    string
	message string
}

func rpcGateway(status int, code, format string, args ...any) *rpcErr {
	return &rpcErr{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func rpcService(code, format string, args ...any) *rpcErr {
	return &rpcErr{status: http.StatusOK, code: code, message: rpcServiceMessages[code] + ": " + fmt.Sprintf(format, args...)}
}

// answerKey is the Stats.ByAnswer key of the error.
func (e *rpcErr) answerKey() string {
	if e.status == http.StatusOK {
		return "code:" + e.code
	}
	return errorKey(e.code)
}

// serveRPC answers one Alibaba Cloud RPC call: common parameters,
// AccessKeyId, signature (v1.0 HMAC-SHA1), Timestamp, SignatureNonce,
// Version, Action, quotas, business parameters; only then are faults
// decided.
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	params, e := readRPCParams(w, r)
	action := params["Action"]
	now := s.now()
	if e == nil {
		e = s.authRPC(r.Method, params, now)
	}
	if e == nil && params["Version"] != rpcVersion {
		e = rpcGateway(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid: cloudauth's is %s.", rpcVersion)
	}
	act, known := rpcActions[action]
	if e == nil && !known {
		e = rpcGateway(http.StatusNotFound, "InvalidAction.NotFound", "Specified api %q is not found (the sandbox serves %v).", truncate(action, 40), slices.Sorted(maps.Keys(rpcActions)))
	}
	if e == nil {
		e = s.admitRPC(action, now)
	}
	var (
		kind string
		p    Params
	)
	if e == nil {
		kind, p, e = parseRPCBusiness(action, act, params)
	}
	if e != nil {
		s.mu.Lock()
		s.count(provAliyun, action, e.answerKey())
		s.mu.Unlock()
		s.log.Debug().Str("provider", ProviderAliyun).Str("action", truncate(action, 40)).
			Str("request_id", reqID).Int("http_status", e.status).Str("error", e.code).Msg("sandbox call refused")
		writeRPCError(w, r.Host, reqID, e)
		return
	}

	authCode := s.answer(kind, p)
	ans, _ := TranslateAliyun(action, authCode)
	key := "code:" + ans.Code
	if ans.Code == "200" {
		key = "biz:" + ans.BizCode
		if ans.SubCode != "" {
			key += "/" + ans.SubCode
		}
	}
	id := identityKey(kind, p)
	d := s.settle(provAliyun, action, settleCall{
		faultKey:  fmt.Sprintf("%s/%016x", ProviderAliyun, id),
		identity:  id,
		answerKey: key,
		billed:    AliyunBilled(action, ans),
	})
	ev := s.log.Debug().Str("provider", ProviderAliyun).Str("action", action).Str("request_id", reqID).Str("fault", d.kind.String())
	switch d.kind {
	case faultNone, faultTimeout:
		ev = ev.Str("answer", key).Str("auth_code", authCode)
	case faultCode:
		ev = ev.Str("error", d.apiCode)
	case fault5xx:
		ev = ev.Int("http_status", d.status)
	}
	ev.Dur("delay", d.delay).Msg("sandbox call")

	s.deliver(w, r, provAliyun, d, "Tengine",
		func() { writeRPCError(w, r.Host, reqID, injectedRPCError(d.apiCode)) },
		func() {
			if ans.Code != "200" {
				writeRPCError(w, r.Host, reqID, rpcService(ans.Code, "the check could not be run on these parameters"))
				return
			}
			res := rpcResult{BizCode: ans.BizCode, SubCode: ans.SubCode}
			if act.isp {
				res.IspName = carrierOf(p.Phone).aliyun
			}
			writeJSON(w, http.StatusOK, rpcAnswer{RequestID: reqID, Code: "200", Message: rpcBizMessage, ResultObject: &res})
		})
}

// rpcGatewayStatus is the HTTP status of gateway codes the fault injector
// may send; others are 500.
var rpcGatewayStatus = map[string]int{
	"InternalError":      http.StatusInternalServerError,
	"ServiceUnavailable": http.StatusServiceUnavailable,
	"Throttling":         http.StatusBadRequest,
	"Throttling.User":    http.StatusBadRequest,
}

// injectedRPCError is the answer of an injected code: a three-digit one is a
// service Code (HTTP 200), anything else a gateway error.
func injectedRPCError(code string) *rpcErr {
	if allDigits(code) {
		return rpcService(code, "(sandbox) injected error, try again later")
	}
	status, ok := rpcGatewayStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return rpcGateway(status, code, "(sandbox) injected error %s, try again later.", code)
}

// admitRPC applies the provider quota (Faults.QuotaRPS) and the action's
// sliding window, and books an admitted call into the peak rates.
func (s *Server) admitRPC(action string, now time.Time) *rpcErr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.underQuotaRPS(provAliyun, now) {
		return rpcGateway(http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control (over %d requests per second).", s.faults[provAliyun].QuotaRPS)
	}
	if limit, ok := s.underActionQuota(provAliyun, action, now); !ok {
		return rpcGateway(http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control (%s: over %d requests per second).", action, limit)
	}
	s.admitted(provAliyun, now)
	return nil
}

// readRPCParams collects the parameters: the query string, and for POST the
// form body too. Every parameter must appear once.
func readRPCParams(w http.ResponseWriter, r *http.Request) (map[string]string, *rpcErr) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, rpcGateway(http.StatusBadRequest, "InvalidParameter", "The query string is malformed.")
	}
	if r.Method == http.MethodPost {
		body, tooBig, err := readBody(w, r)
		switch {
		case tooBig:
			return nil, rpcGateway(http.StatusBadRequest, "InvalidParameter", "The request body is over %d bytes.", maxBodyBytes)
		case err != nil:
			return nil, rpcGateway(http.StatusBadRequest, "InvalidParameter", "The request body could not be read.")
		}
		if len(body) > 0 {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/x-www-form-urlencoded" {
				return nil, rpcGateway(http.StatusBadRequest, "InvalidParameter", "A POST body must be application/x-www-form-urlencoded.")
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, rpcGateway(http.StatusBadRequest, "InvalidParameter", "The form body is malformed.")
			}
			for k, vs := range form {
				vals[k] = append(vals[k], vs...)
			}
		}
	}
	params := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) != 1 {
			return nil, rpcGateway(http.StatusBadRequest, "InvalidParameter", "The parameter %q appears more than once.", truncate(k, 40))
		}
		params[k] = vs[0]
	}
	return params, nil
}

// authRPC checks the common parameters, the AccessKeyId, the signature, the
// Timestamp's freshness and the SignatureNonce. A refused request does not
// use up its nonce.
func (s *Server) authRPC(method string, params map[string]string, now time.Time) *rpcErr {
	for _, name := range rpcCommon {
		if params[name] == "" {
			return rpcGateway(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
		}
	}
	if f := params["Format"]; f != "" && !strings.EqualFold(f, "JSON") {
		return rpcGateway(http.StatusBadRequest, "InvalidParameter", "Specified parameter Format is not valid: the sandbox answers JSON only.")
	}
	if params["SignatureMethod"] != rpcSigMethod {
		return rpcGateway(http.StatusBadRequest, "InvalidParameter", "Specified parameter SignatureMethod is not valid: want %s.", rpcSigMethod)
	}
	if params["SignatureVersion"] != rpcSigVersion {
		return rpcGateway(http.StatusBadRequest, "InvalidParameter", "Specified parameter SignatureVersion is not valid: want %s.", rpcSigVersion)
	}
	ts, err := time.Parse(rpcTimeLayout, params["Timestamp"])
	if err != nil {
		return rpcGateway(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted: want UTC YYYY-MM-DDThh:mm:ssZ.")
	}
	akid := params[rpcAccessKeyID]
	secret, ok := s.creds[akid]
	if !ok {
		return rpcGateway(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	if !rpcSignatureValid(secret, rpcStringToSign(method, params), params[rpcSignature]) {
		// The real gateway echoes its string to sign; it holds the
		// identity being checked, so the sandbox does not.
		return rpcGateway(http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
	}
	if d := now.Sub(ts); d > rpcWindow || d < -rpcWindow {
		return rpcGateway(http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired: more than %s from the server's clock (%s).", rpcWindow, now.UTC().Format(rpcTimeLayout))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rpcNonces.use(nonceKey{akid, hashString(params["SignatureNonce"])}, now) {
		return rpcGateway(http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	return nil
}

// rpcEscape percent-encodes s as RFC 3986 asks (and the RPC signature
// needs): A-Z a-z 0-9 - _ . ~ stay, every other byte of the UTF-8 becomes
// %XY in upper-case hex, so a space is %20 and * is %2A.
func rpcEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3 / 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// rpcStringToSign returns the RPC (signature 1.0) string to sign: the
// method, "&", the encoded "/", "&", and the encoded canonicalized query
// string, which joins every parameter but Signature as encoded key=value,
// sorted by key in byte order, with "&".
func rpcStringToSign(method string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != rpcSignature {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var cq strings.Builder
	for i, k := range keys {
		if i > 0 {
			cq.WriteByte('&')
		}
		cq.WriteString(rpcEscape(k))
		cq.WriteByte('=')
		cq.WriteString(rpcEscape(params[k]))
	}
	return method + "&" + rpcEscape("/") + "&" + rpcEscape(cq.String())
}

// rpcSignatureValid reports whether sig is base64(HMAC-SHA1(secret+"&",
// stringToSign)).
func rpcSignatureValid(secret, stringToSign, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return hmac.Equal(m.Sum(nil), got)
}

// Business parameter values of cloudauth.
const (
	rpcParamNormal    = "normal"
	rpcVerifyBankCard = "VERIFY_BANK_CARD"
	rpcBankCard3Meta  = "BANK_CARD_3_META"
	rpcBankCard4Meta  = "BANK_CARD_4_META"
	rpcResidentID     = "01"
)

// parseRPCBusiness checks the business parameters of action and returns
// the kind of check (a v2 action) and the identity, normalised. Missing
// parameters answer service Code 400 and invalid ones 401, with HTTP 200.
// Messages name parameters, never their values.
func parseRPCBusiness(action string, act rpcAction, params map[string]string) (string, Params, *rpcErr) {
	var p Params
	kind := act.kind
	required := []string{"ParamType", "IdentifyNum", "UserName"}
	switch action {
	case ActionMobile3MetaSimpleVerify, ActionMobile3MetaDetailVerify:
		required = []string{"ParamType", "Mobile", "IdentifyNum", "UserName"}
	case ActionBankMetaVerify:
		required = []string{"ParamType", "VerifyMode", "ProductType", "BankCard", "UserName", "IdentifyNum"}
		if params["ProductType"] == rpcBankCard4Meta {
			required = append(required, "Mobile")
		}
	}
	for _, name := range required {
		if params[name] == "" {
			return "", p, rpcService("400", "the parameter %s is empty", name)
		}
	}
	switch pt := params["ParamType"]; pt {
	case rpcParamNormal:
	case "md5", "sm2":
		return "", p, rpcService("401", "ParamType %s is not supported by the sandbox: use normal", pt)
	default:
		return "", p, rpcService("401", "ParamType must be normal")
	}
	if action == ActionBankMetaVerify {
		if params["VerifyMode"] != rpcVerifyBankCard {
			return "", p, rpcService("401", "VerifyMode must be %s", rpcVerifyBankCard)
		}
		switch params["ProductType"] {
		case rpcBankCard3Meta:
			kind = ActionBankCard3Auth
		case rpcBankCard4Meta:
			kind = ActionBankCardAuth4
		default:
			return "", p, rpcService("401", "ProductType must be %s or %s", rpcBankCard3Meta, rpcBankCard4Meta)
		}
		if t, ok := params["IdentityType"]; ok && t != rpcResidentID {
			return "", p, rpcService("401", "IdentityType must be %s (resident ID card): the sandbox checks no other", rpcResidentID)
		}
	}
	phone, card := actionUses(kind)
	p = normalize(Params{Name: params["UserName"], IDNumber: params["IdentifyNum"]})
	checks := []struct{ name, why string }{
		{"UserName", checkName(p.Name)},
		{"IdentifyNum", checkIDNumber(p.IDNumber)},
	}
	if phone {
		p.Phone = normalizePhone(params["Mobile"])
		checks = append(checks, struct{ name, why string }{"Mobile", checkPhone(p.Phone)})
	}
	if card {
		p.BankCard = params["BankCard"]
		checks = append(checks, struct{ name, why string }{"BankCard", checkBankCard(p.BankCard)})
	}
	for _, c := range checks {
		if c.why != "" {
			return "", p, rpcService("401", "the parameter %s is invalid: %s", c.name, c.why)
		}
	}
	return kind, p, nil
}

// rpcResult is the ResultObject of an answer; SubCode and IspName are
// omitted by the actions that do not report them.
type rpcResult struct {
	BizCode string `json:"BizCode"`
	SubCode string `json:"SubCode,omitempty"`
	IspName string `json:"IspName,omitempty"`
}

// rpcAnswer is a service answer: Code "200" with a ResultObject, or another
// Code without one.
type rpcAnswer struct {
	RequestID    string     `json:"RequestId"`
	Code         string     `json:"Code"`
	Message      string     `json:"Message"`
	ResultObject *rpcResult `json:"ResultObject,omitempty"`
}

// rpcGatewayBody is a gateway error.
type rpcGatewayBody struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	Recommend string `json:"Recommend"`
}

func writeRPCError(w http.ResponseWriter, host, reqID string, e *rpcErr) {
	if e.status == http.StatusOK {
		writeJSON(w, http.StatusOK, rpcAnswer{RequestID: reqID, Code: e.code, Message: e.message})
		return
	}
	writeJSON(w, e.status, rpcGatewayBody{
		RequestID: reqID,
		HostID:    host,
		Code:      e.code,
		Message:   e.message,
		Recommend: "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.code) + "&product=Cloudauth&requestId=" + reqID,
	})
}

// writeRPCGatewayError answers a gateway error without a request of its
// own (the outage).
func writeRPCGatewayError(w http.ResponseWriter, host string, e rpcErr) {
	writeRPCError(w, host, newRequestID(), &e)
}
