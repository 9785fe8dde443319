package sandbox

// This file is the Tencent v2 protocol: parameters, signature, checks and
// answers.

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// apiPath is the path of every v2 API.
const apiPath = "/v2/index.php"

// maxBodyBytes bounds a POST body; a real request is well under 1 KiB.
const maxBodyBytes = 64 << 10

// Common parameter names.
const (
	paramAction          = "Action"
	paramSecretID        = "SecretId"
	paramSignature       = "Signature"
	paramSignatureMethod = "SignatureMethod"
	paramTimestamp       = "Timestamp"
	paramNonce           = "Nonce"
)

// The signature methods. HmacSHA1 is the default when SignatureMethod is
// absent.
const (
	hmacSHA1   = "HmacSHA1"
	hmacSHA256 = "HmacSHA256"
)

// gatewayError is a non-zero code answer of the gateway.
type gatewayError struct {
	code    int
	message string
}

// gatewayCodes gives each gateway code its codeDesc and the message the
// sandbox sends when it has nothing more specific to say, in the wording of
// Tencent's v2 public error table and the guide's 鉴权失败 table.
var gatewayCodes = map[int]struct{ desc, message string }{
	4000: {"InvalidParameter", "请求参数非法 (invalid parameter)"},
	4100: {"AuthFailure", "身份验证失败，请确保您请求参数中的 Signature 计算正确，特别注意 Signature 要做 URL 编码后再发起请求 (signature verification failed)"},
	4101: {"AuthFailure", "该子用户未被授权调用此接口，请联系开发商授权 (sub-account not authorised for this API)"},
	4102: {"AuthFailure", "请求的资源参数中，存在未被开发商授权访问的资源 (sub-account not authorised for this resource)"},
	4103: {"AuthFailure", "子用户的 SecretId 不支持调用此接口，只有开发商有权调用 (API reserved to the developer account)"},
	4104: {"AuthFailure", "SecretId 不存在，也可能是密钥状态有误，请确保 API 密钥有效且未被禁用 (SecretId not found or disabled)"},
	4110: {"AuthFailure", "权限校验失败，请确保您有使用所访问资源的权限 (permission check failed)"},
	4200: {"RequestExpired", "请求已过期 (request expired)"},
	4300: {"AccessDenied", "拒绝访问：帐号被封禁，或者不在接口针对的用户范围内 (access denied)"},
	4400: {"RequestLimitExceeded", "请求频率超过配额限制 (request rate over quota)"},
	4500: {"ReplayAttack", "重放攻击错误：请注意 Nonce 参数两次请求不能重复，Timestamp 与腾讯服务器相差不能超过2小时 (replay detected)"},
	4600: {"ProtocolNotSupported", "协议不支持 (protocol not supported)"},
	5000: {"ResourceNotFound", "资源不存在 (resource not found)"},
	5100: {"ResourceOpFailed", "资源操作失败，请稍后重试 (resource operation failed, try again later)"},
	5200: {"ResourceBuyFailed", "资源购买失败 (purchase failed)"},
	5300: {"BalanceInsufficient", "余额不足 (insufficient balance)"},
	5400: {"PartSuccess", "部分执行成功 (batch partly succeeded)"},
	5500: {"IdentityNotVerified", "用户资质审核未通过 (account identity not verified)"},
	6000: {"InternalError", "服务器内部错误 (internal server error)"},
	6100: {"VersionNotSupported", "本版本内不支持此接口 (API not supported in this version)"},
	6200: {"InterfaceUnavailable", "当前接口处于停服维护状态，请稍后重试 (API under maintenance)"},
}

func gwErr(code int, format string, args ...any) *gatewayError {
	return &gatewayError{code: code, message: fmt.Sprintf(format, args...)}
}

// gwDefault returns the gateway error code with its table message.
func gwDefault(code int) *gatewayError {
	if c, ok := gatewayCodes[code]; ok {
		return &gatewayError{code: code, message: c.message}
	}
	return &gatewayError{code: code, message: "(sandbox) injected gateway error"}
}

func codeDesc(code int) string {
	if c, ok := gatewayCodes[code]; ok {
		return c.desc
	}
	return "UnknownError"
}

func missingParam(name string) *gatewayError {
	return gwErr(4000, "(100001) 缺少参数 %s (missing required parameter %s)", name, name)
}

func invalidParam(name, why string) *gatewayError {
	return gwErr(4000, "(100002) 参数 %s 格式错误 (invalid parameter %s: %s)", name, name, why)
}

// readParams collects the request's parameters: the query string, and for
// POST the form body too. Every parameter must appear once, and no two keys
// may collide once "_" becomes "." for signing.
func readParams(w http.ResponseWriter, r *http.Request) (map[string]string, *gatewayError) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, gwErr(4000, "(100002) 查询字符串格式错误 (malformed query string)")
	}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, gwErr(4000, "(100002) 请求体过大 (request body over %d bytes)", maxBodyBytes)
			}
			return nil, gwErr(4000, "(100002) 请求体读取失败 (request body unreadable)")
		}
		if len(body) > 0 {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/x-www-form-urlencoded" {
				return nil, gwErr(4000, "(100002) POST 请求体须为 application/x-www-form-urlencoded (POST body must be application/x-www-form-urlencoded)")
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, gwErr(4000, "(100002) 请求体格式错误 (malformed form body)")
			}
			for k, vs := range form {
				vals[k] = append(vals[k], vs...)
			}
		}
	}
	params := make(map[string]string, len(vals))
	canon := make(map[string]struct{}, len(vals))
	for k, vs := range vals {
		ck := strings.ReplaceAll(k, "_", ".")
		if _, dup := canon[ck]; dup || len(vs) != 1 {
			return nil, gwErr(4000, "(100002) 参数重复 (duplicate parameter %q)", truncate(k, 40))
		}
		canon[ck] = struct{}{}
		params[k] = vs[0]
	}
	return params, nil
}

// stringToSign returns the v2 signature source of a request: the upper-case
// method, host, path, "?", then every parameter but Signature as key=value,
// raw (not URL-encoded), "_" in keys replaced by ".", sorted by key in byte
// order and joined by "&".
func stringToSign(method, host, path string, params map[string]string) string {
	type kv struct{ k, v string }
	pairs := make([]kv, 0, len(params))
	n := len(method) + len(host) + len(path) + 1
	for k, v := range params {
		if k == paramSignature {
			continue
		}
		pairs = append(pairs, kv{strings.ReplaceAll(k, "_", "."), v})
		n += len(k) + len(v) + 2
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	var b strings.Builder
	b.Grow(n)
	b.WriteString(strings.ToUpper(method))
	b.WriteString(host)
	b.WriteString(path)
	b.WriteByte('?')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// signatureValid reports whether sig is base64(HMAC(key, source)) with the
// hash that method names. A signature that is not valid base64 (typically a
// "+" that was not URL-encoded and arrived as a space) simply does not match.
func signatureValid(method, key, source, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	var h func() hash.Hash = sha1.New
	if method == hmacSHA256 {
		h = sha256.New
	}
	mac := hmac.New(h, []byte(key))
	mac.Write([]byte(source))
	return hmac.Equal(mac.Sum(nil), got)
}

// common holds the parsed common parameters.
type common struct {
	action, secretID, signature, sigMethod string
	timestamp, nonce                       uint64
}

// parseCommon checks that the common parameters are present and well formed.
func parseCommon(params map[string]string) (common, *gatewayError) {
	var c common
	for _, name := range [...]string{paramAction, paramSecretID, paramSignature, paramTimestamp, paramNonce} {
		if params[name] == "" {
			return c, missingParam(name)
		}
	}
	c.action = params[paramAction]
	c.secretID = params[paramSecretID]
	c.signature = params[paramSignature]
	var err error
	if c.timestamp, err = strconv.ParseUint(params[paramTimestamp], 10, 64); err != nil {
		return c, invalidParam(paramTimestamp, "must be an unsigned integer")
	}
	if c.nonce, err = strconv.ParseUint(params[paramNonce], 10, 64); err != nil || c.nonce == 0 {
		return c, invalidParam(paramNonce, "must be a positive integer")
	}
	switch m, ok := params[paramSignatureMethod]; {
	case !ok || m == hmacSHA1:
		c.sigMethod = hmacSHA1
	case m == hmacSHA256:
		c.sigMethod = hmacSHA256
	default:
		return c, invalidParam(paramSignatureMethod, "must be HmacSHA1 or HmacSHA256")
	}
	return c, nil
}

// parseBusiness checks the business parameters of action and returns them
// normalised. Messages name the parameter, never its value.
func parseBusiness(action string, params map[string]string) (orderNo string, p Params, gerr *gatewayError) {
	phone, card := actionUses(action)
	required := []string{paramOrderNo, paramName, paramIDNumber}
	if phone {
		required = append(required, paramPhone)
	}
	if card {
		required = append(required, paramBankCard)
	}
	for _, name := range required {
		if params[name] == "" {
			return "", p, missingParam(name)
		}
	}
	orderNo = params[paramOrderNo]
	p = normalize(Params{Name: params[paramName], IDNumber: params[paramIDNumber]})
	if phone {
		p.Phone = normalizePhone(params[paramPhone])
	}
	if card {
		p.BankCard = params[paramBankCard]
	}
	checks := []struct {
		name string
		why  string
	}{
		{paramOrderNo, checkOrderNo(orderNo)},
		{paramName, checkName(p.Name)},
		{paramIDNumber, checkIDNumber(p.IDNumber)},
	}
	if phone {
		checks = append(checks, struct{ name, why string }{paramPhone, checkPhone(p.Phone)})
	}
	if card {
		checks = append(checks, struct{ name, why string }{paramBankCard, checkBankCard(p.BankCard)})
	}
	for _, c := range checks {
		if c.why != "" {
			return "", p, invalidParam(c.name, c.why)
		}
	}
	return orderNo, p, nil
}

// serveAPI answers one Tencent v2 gateway call. The checks run in the real
// gateway's order: common parameters, SecretId, signature, Timestamp, Nonce,
// quota, Action, business parameters; only then are faults decided.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	params, gerr := readParams(w, r)
	action := params[paramAction]
	if gerr == nil {
		gerr = s.admit(r, params)
	}
	if gerr == nil && actionIndex(action) < 0 {
		gerr = gwErr(4000, "(100003) 不支持的 Action (Action not supported: %q)", truncate(action, 40))
	}
	var (
		orderNo string
		p       Params
	)
	if gerr == nil {
		orderNo, p, gerr = parseBusiness(action, params)
	}
	if gerr != nil {
		s.mu.Lock()
		s.count(provTencentV2, action, codeKey(gerr.code))
		s.mu.Unlock()
		s.log.Debug().Str("provider", ProviderTencentV2).Str("action", truncate(action, 40)).
			Str("order_no", truncate(params[paramOrderNo], maxOrderNoBytes)).
			Int("code", gerr.code).Msg("sandbox call refused")
		writeGatewayError(w, gerr)
		return
	}

	authCode := s.answer(action, p)
	d := s.settle(provTencentV2, action, settleCall{
		faultKey:  orderNo,
		orderNo:   true,
		identity:  identityKey(action, p),
		answerKey: authCode,
		billed:    true,
	})
	ev := s.log.Debug().Str("provider", ProviderTencentV2).Str("action", action).Str("order_no", orderNo).Str("fault", d.kind.String())
	switch d.kind {
	case faultNone, faultTimeout:
		ev = ev.Int("code", 0).Str("auth_code", authCode)
	case faultCode:
		ev = ev.Int("code", d.code)
	case fault5xx:
		ev = ev.Int("http_status", d.status)
	}
	ev.Dur("delay", d.delay).Msg("sandbox call")

	s.deliver(w, r, provTencentV2, d, "stgw",
		func() { writeGatewayError(w, gwDefault(d.code)) },
		func() { writeAnswer(w, authCode) })
}

// admit runs the v2 checks that come before the Action is looked at: common
// parameters, SecretId, signature, Timestamp, Nonce and quota.
func (s *Server) admit(r *http.Request, params map[string]string) *gatewayError {
	c, gerr := parseCommon(params)
	if gerr != nil {
		return gerr
	}
	key, ok := s.creds[c.secretID]
	if !ok {
		return gwDefault(4104)
	}
	src := stringToSign(r.Method, r.Host, r.URL.Path, params)
	if !signatureValid(c.sigMethod, key, src, c.signature) {
		return gwDefault(4100)
	}
	now := s.now()
	if !timestampFresh(c.timestamp, now, s.window) {
		return gwErr(4500, "重放攻击错误：Timestamp 与服务器时间相差超过 %s (replay: Timestamp more than %s from the server's clock)", s.window, s.window)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonces.use(nonceKey{c.secretID, c.nonce}, now) {
		return gwErr(4500, "重放攻击错误：Nonce 参数两次请求不能重复 (replay: Nonce already used with this SecretId)")
	}
	if !s.underQuotaRPS(provTencentV2, now) {
		return gwErr(4400, "请求频率超过配额限制 (RequestLimitExceeded: over %d requests per second)", s.faults[provTencentV2].QuotaRPS)
	}
	s.admitted(provTencentV2, now)
	return nil
}

// timestampFresh reports whether ts (Unix seconds) is within window of now.
func timestampFresh(ts uint64, now time.Time, window time.Duration) bool {
	const maxInt64 = 1<<63 - 1
	if ts > maxInt64 {
		return false
	}
	d := now.Unix() - int64(ts)
	if d < 0 {
		d = -d
	}
	return d <= int64(window/time.Second)
}

type response struct {
	Code       int         `json:"code"`
	CodeDesc   string      `json:"codeDesc"`
	Message    string      `json:"message"`
	BspFivBody *bspFivBody `json:"bspFivBody,omitempty"`
}

type bspFivBody struct {
	AuthCode    string `json:"authCode"`
	AuthMessage string `json:"authMessage"`
}

func writeAnswer(w http.ResponseWriter, authCode string) {
	writeJSON(w, http.StatusOK, response{
		Code:       0,
		CodeDesc:   "Success",
		Message:    "No Error",
		BspFivBody: &bspFivBody{AuthCode: authCode, AuthMessage: AuthMessage(authCode)},
	})
}

// writeGatewayError answers a gateway error with HTTP 200, as the v2 gateway
// does.
func writeGatewayError(w http.ResponseWriter, e *gatewayError) {
	writeJSON(w, http.StatusOK, response{Code: e.code, CodeDesc: codeDesc(e.code), Message: e.message})
}
