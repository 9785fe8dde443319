package sandbox

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tencent API 3.0 constants of faceid.
const (
	headerTCAction    = "X-TC-Action"
	headerTCVersion   = "X-TC-Version"
	headerTCTimestamp = "X-TC-Timestamp"

	tc3Algorithm = "TC3-HMAC-SHA256"
	tc3Service   = "faceid"
	tc3Version   = "2018-03-01"
	tc3Term      = "tc3_request"
	// tc3Window is the largest allowed difference between X-TC-Timestamp
	// and the sandbox's clock, as the real API's.
	tc3Window = 5 * time.Minute
)

// tc3Error is an error answer of Tencent API 3.0 (HTTP 200).
type tc3Error struct {
	code    string
	message string
}

func tc3Err(code, format string, args ...any) *tc3Error {
	return &tc3Error{code: code, message: fmt.Sprintf(format, args...)}
}

// serveTC3 answers one Tencent API 3.0 call: action header, body, signature
// (TC3-HMAC-SHA256), timestamp, version, action, quotas, business
// parameters; only then are faults decided.
func (s *Server) serveTC3(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	action := r.Header.Get(headerTCAction)
	kind, known := tc3Kinds[action]
	var terr *tc3Error
	if action == "" {
		terr = tc3Err("MissingParameter", "The request is missing the required header %s.", headerTCAction)
	}
	var body []byte
	if terr == nil {
		var tooBig bool
		var err error
		if body, tooBig, err = readBody(w, r); tooBig {
			terr = tc3Err("InvalidParameter", "The request body is over %d bytes.", maxBodyBytes)
		} else if err != nil {
			terr = tc3Err("InvalidParameter", "The request body could not be read.")
		}
	}
	now := s.now()
	if terr == nil {
		terr = s.authTC3(r, body, now)
	}
	if terr == nil {
		switch v := r.Header.Get(headerTCVersion); {
		case v == "":
			terr = tc3Err("InvalidParameter", "The request is missing the required header %s (%s).", headerTCVersion, tc3Version)
		case v != tc3Version:
			terr = tc3Err("NoSuchVersion", "The API version %q does not exist for %s; use %s.", truncate(v, 20), tc3Service, tc3Version)
		}
	}
	if terr == nil && !known {
		terr = tc3Err("InvalidAction", "The action %q does not exist (the sandbox serves %v).", truncate(action, 40), slices.Sorted(maps.Keys(tc3Kinds)))
	}
	if terr == nil {
		terr = s.admitTC3(action, now)
	}
	var (
		p          Params
		verifyMode string
	)
	if terr == nil {
		p, verifyMode, terr = parseTC3Business(action, r.Header.Get("Content-Type"), body)
	}
	if terr != nil {
		s.mu.Lock()
		s.count(provTencentV3, action, errorKey(terr.code))
		s.mu.Unlock()
		s.log.Debug().Str("provider", ProviderTencentV3).Str("action", truncate(action, 40)).
			Str("request_id", reqID).Str("error", terr.code).Msg("sandbox call refused")
		writeTC3Error(w, reqID, terr)
		return
	}

	authCode := s.answer(kind, p)
	result := tc3FromV2[action][authCode]
	code := tc3Results[action][result]
	id := identityKey(kind, p)
	d := s.settle(provTencentV3, action, settleCall{
		faultKey:  fmt.Sprintf("%s/%016x", ProviderTencentV3, id),
		identity:  id,
		answerKey: result,
		billed:    code.billed,
	})
	ev := s.log.Debug().Str("provider", ProviderTencentV3).Str("action", action).Str("request_id", reqID).Str("fault", d.kind.String())
	switch d.kind {
	case faultNone, faultTimeout:
		ev = ev.Str("result", result).Str("auth_code", authCode)
	case faultCode:
		ev = ev.Str("error", d.apiCode)
	case fault5xx:
		ev = ev.Int("http_status", d.status)
	}
	ev.Dur("delay", d.delay).Msg("sandbox call")

	s.deliver(w, r, provTencentV3, d, "stgw",
		func() {
			writeTC3Error(w, reqID, tc3Err(d.apiCode, "(sandbox) injected error %s; try again later.", d.apiCode))
		},
		func() {
			a := tc3Answer{Result: result, Description: code.desc, RequestID: reqID}
			if action == ActionPhoneVerification {
				a.Isp = carrierOf(p.Phone).tencent
				if verifyMode == "1" && result == "-4" {
					a.ResultDetail = cmp.Or(tc3PhoneDetail[authCode], "OtherMismatch")
				}
			}
			writeJSON(w, http.StatusOK, tc3Envelope{Response: a})
		})
}

// admitTC3 applies the provider quota (Faults.QuotaRPS) and the action's
// sliding window, and books an admitted call into the peak rates.
func (s *Server) admitTC3(action string, now time.Time) *tc3Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.underQuotaRPS(provTencentV3, now) {
		return tc3Err("RequestLimitExceeded", "The number of requests exceeds the frequency limit (%d per second).", s.faults[provTencentV3].QuotaRPS)
	}
	if limit, ok := s.underActionQuota(provTencentV3, action, now); !ok {
		return tc3Err("RequestLimitExceeded", "The number of requests exceeds the frequency limit of %s (%d per second).", action, limit)
	}
	s.admitted(provTencentV3, now)
	return nil
}

// tc3Auth is a parsed Authorization header.
type tc3Auth struct {
	secretID, date, service string
	// signedHeaders are the SignedHeaders names, lower-cased and sorted.
	signedHeaders []string
	signature     string
}

// authTC3 checks the Authorization header: its form, the SecretId, the
// credential scope, the signature recomputed over the request as received,
// then the timestamp's freshness.
func (s *Server) authTC3(r *http.Request, body []byte, now time.Time) *tc3Error {
	a, terr := parseTC3Authorization(r.Header.Get("Authorization"))
	if terr != nil {
		return terr
	}
	tsText := r.Header.Get(headerTCTimestamp)
	if tsText == "" {
		return tc3Err("MissingParameter", "The request is missing the required header %s.", headerTCTimestamp)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts <= 0 {
		return tc3Err("InvalidParameter", "%s must be a Unix time in seconds.", headerTCTimestamp)
	}
	key, ok := s.creds[a.secretID]
	if !ok {
		return tc3Err("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
	}
	if a.service != tc3Service {
		return tc3Err("AuthFailure.SignatureFailure", "The credential scope names the service %q; faceid is signed for %q.", truncate(a.service, 20), tc3Service)
	}
	if want := time.Unix(ts, 0).UTC().Format(time.DateOnly); a.date != want {
		return tc3Err("AuthFailure.SignatureFailure", "The credential date %q is not the UTC date of %s (%s).", truncate(a.date, 20), headerTCTimestamp, want)
	}
	canonical := tc3CanonicalRequest(r.Method, a.signedHeaders, func(name string) string {
		if name == "host" {
			return r.Host
		}
		return strings.Join(r.Header.Values(name), ",")
	}, body)
	want := tc3Signature(key, a.date, a.service, tsText, canonical)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		// The canonical request holds headers and the body's hash, no
		// personal data: it is what a client author needs to compare.
		return tc3Err("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct. The sandbox's CanonicalRequest is %q.", canonical)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tc3Window || d < -tc3Window {
		return tc3Err("AuthFailure.SignatureExpire", "Signature expired: %s is more than %s from the server's clock (now %d).", headerTCTimestamp, tc3Window, now.Unix())
	}
	return nil
}

// parseTC3Authorization reads
// "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX".
func parseTC3Authorization(h string) (tc3Auth, *tc3Error) {
	var a tc3Auth
	bad := func(why string) (tc3Auth, *tc3Error) {
		return a, tc3Err("AuthFailure.InvalidAuthorization", "The Authorization header is invalid: %s. Want %s Credential=SecretId/Date/%s/%s, SignedHeaders=content-type;host, Signature=hex.", why, tc3Algorithm, tc3Service, tc3Term)
	}
	if h == "" {
		return bad("it is missing")
	}
	alg, rest, _ := strings.Cut(h, " ")
	if alg != tc3Algorithm {
		return bad("the algorithm must be " + tc3Algorithm)
	}
	seen := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return bad("every part must be name=value")
		case k != "Credential" && k != "SignedHeaders" && k != "Signature":
			return bad("unknown part " + strconv.Quote(truncate(k, 20)))
		}
		if _, dup := seen[k]; dup {
			return bad(k + " appears twice")
		}
		seen[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if seen[k] == "" {
			return bad(k + " is missing")
		}
	}
	cred := strings.Split(seen["Credential"], "/")
	if len(cred) != 4 || cred[0] == "" || cred[3] != tc3Term {
		return bad("Credential must be SecretId/Date/Service/" + tc3Term)
	}
	a.secretID, a.date, a.service = cred[0], cred[1], cred[2]
	for name := range strings.SplitSeq(seen["SignedHeaders"], ";") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || slices.Contains(a.signedHeaders, name) {
			return bad("SignedHeaders must list distinct header names")
		}
		a.signedHeaders = append(a.signedHeaders, name)
	}
	slices.Sort(a.signedHeaders)
	if !slices.Contains(a.signedHeaders, "content-type") || !slices.Contains(a.signedHeaders, "host") {
		return bad("SignedHeaders must include content-type and host")
	}
	a.signature = seen["Signature"]
	return a, nil
}

// tc3CanonicalRequest builds TC3's canonical request: the method, the URI
// "/", the empty query of a POST, the canonical headers (each signed header
// as "name:value\n", the name lower-case, the value trimmed and lower-cased,
// sorted by name), the signed header names joined by ";", and the hex
// SHA-256 of the exact body. names must be lower-case and sorted.
func tc3CanonicalRequest(method string, names []string, value func(name string) string, body []byte) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteString("\n/\n\n")
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.ToLower(strings.TrimSpace(value(n))))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(names, ";"))
	b.WriteByte('\n')
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// tc3Signature signs a canonical request: StringToSign is the algorithm,
// the timestamp, the credential scope date/service/tc3_request and the hex
// SHA-256 of the canonical request, one a line; the key is derived from
// "TC3"+secretKey through the date, the service and "tc3_request".
func tc3Signature(secretKey, date, service, timestamp, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	sts := tc3Algorithm + "\n" + timestamp + "\n" + date + "/" + service + "/" + tc3Term + "\n" + hex.EncodeToString(sum[:])
	k := tc3HMAC([]byte("TC3"+secretKey), date)
	k = tc3HMAC(k, service)
	k = tc3HMAC(k, tc3Term)
	return hex.EncodeToString(tc3HMAC(k, sts))
}

func tc3HMAC(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// tc3Fields are the body fields of each action: required ones first, in
// the order a missing one is reported.
var tc3Fields = map[string]struct{ required, optional []string }{
	ActionIDCardVerification:     {[]string{"IdCard", "Name"}, []string{"Encryption"}},
	ActionPhoneVerification:      {[]string{"IdCard", "Name", "Phone"}, []string{"VerifyMode", "CiphertextBlob", "EncryptList", "Iv", "Encryption"}},
	ActionBankCardVerification:   {[]string{"IdCard", "Name", "BankCard"}, []string{"CertType", "Encryption"}},
	ActionBankCard4EVerification: {[]string{"Name", "BankCard", "Phone", "IdCard"}, []string{"CertType", "Encryption"}},
}

// tc3EncryptionFields carry encrypted values, which the sandbox cannot read.
var tc3EncryptionFields = []string{"Encryption", "CiphertextBlob", "EncryptList", "Iv"}

// parseTC3Business checks the JSON body of action and returns the identity
// it names, normalised, and PhoneVerification's VerifyMode. Messages name
// fields, never their values.
func parseTC3Business(action, contentType string, body []byte) (Params, string, *tc3Error) {
	var p Params
	if !isJSON(contentType) {
		return p, "", tc3Err("InvalidParameter", "The Content-Type must be application/json.")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return p, "", tc3Err("InvalidParameter", "The request body must be a JSON object.")
	}
	fields := tc3Fields[action]
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(fields.required, k) && !slices.Contains(fields.optional, k) {
			return p, "", tc3Err("UnknownParameter", "The parameter `%s` is not recognized by %s.", truncate(k, 40), action)
		}
		if slices.Contains(tc3EncryptionFields, k) && string(raw[k]) != "null" {
			return p, "", tc3Err("InvalidParameter.UnsupportEncryptField", "The sandbox does not decrypt: send the fields in clear, without `%s`.", k)
		}
	}
	str := func(name string) (string, *tc3Error) {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", tc3Err("InvalidParameter", "The parameter `%s` must be a string.", name)
		}
		return s, nil
	}
	vals := map[string]string{}
	for _, name := range append(slices.Clone(fields.required), "VerifyMode") {
		v, terr := str(name)
		if terr != nil {
			return p, "", terr
		}
		vals[name] = v
	}
	for _, name := range fields.required {
		if vals[name] == "" {
			return p, "", tc3Err("InvalidParameter", "The parameter `%s` is missing.", name)
		}
	}
	if v, ok := raw["CertType"]; ok && string(v) != "null" {
		var n int64
		if err := json.Unmarshal(v, &n); err != nil {
			return p, "", tc3Err("InvalidParameter", "The parameter `CertType` must be an integer.")
		}
		if n != 0 {
			return p, "", tc3Err("InvalidParameterValue", "The parameter `CertType` must be 0 (resident ID card): the sandbox checks no other.")
		}
	}
	verifyMode := cmp.Or(vals["VerifyMode"], "0")
	if action == ActionPhoneVerification && verifyMode != "0" && verifyMode != "1" {
		return p, "", tc3Err("InvalidParameterValue", "The parameter `VerifyMode` must be \"0\" or \"1\".")
	}
	p = normalize(Params{Name: vals["Name"], IDNumber: vals["IdCard"], Phone: vals["Phone"], BankCard: vals["BankCard"]})
	checks := []struct{ name, why string }{
		{"Name", checkName(p.Name)},
		{"IdCard", checkIDNumber(p.IDNumber)},
	}
	if slices.Contains(fields.required, "Phone") {
		checks = append(checks, struct{ name, why string }{"Phone", checkPhone(p.Phone)})
	}
	if slices.Contains(fields.required, "BankCard") {
		checks = append(checks, struct{ name, why string }{"BankCard", checkBankCard(p.BankCard)})
	}
	for _, c := range checks {
		if c.why != "" {
			return p, "", tc3Err("InvalidParameterValue", "The value of parameter `%s` is invalid: %s.", c.name, c.why)
		}
	}
	return p, verifyMode, nil
}

// isJSON reports whether a Content-Type is application/json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// readBody reads a request body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, tooBig bool, err error) {
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var mbe *http.MaxBytesError
	return body, errors.As(err, &mbe), err
}

type tc3Envelope struct {
	Response any `json:"Response"`
}

// tc3Answer is a business answer. Isp (PhoneVerification) and ResultDetail
// (PhoneVerification with VerifyMode "1" and a mismatch) are omitted when
// they do not apply.
type tc3Answer struct {
	Result       string `json:"Result"`
	Description  string `json:"Description"`
	Isp          string `json:"Isp,omitempty"`
	ResultDetail string `json:"ResultDetail,omitempty"`
	RequestID    string `json:"RequestId"`
}

type tc3ErrorBody struct {
	Error struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	} `json:"Error"`
	RequestID string `json:"RequestId"`
}

func writeTC3Error(w http.ResponseWriter, reqID string, e *tc3Error) {
	var b tc3ErrorBody
	b.Error.Code, b.Error.Message, b.RequestID = e.code, e.message, reqID
	writeJSON(w, http.StatusOK, tc3Envelope{Response: b})
}

// newRequestID returns a random UUID (version 4), as both providers' request
// IDs are.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// carrier names a mobile network operator the ways the two APIs do.
type carrier struct{ tencent, aliyun string }

var (
	carrierMobile  = carrier{"移动", "CMCC"}
	carrierUnicom  = carrier{"联通", "CUCC"}
	carrierTelecom = carrier{"电信", "CTCC"}
)

// carrierPrefixes maps the first three digits of a mainland mobile number to
// its operator (number portability aside).
var carrierPrefixes = func() map[string]carrier {
	m := map[string]carrier{}
	for c, prefixes := range map[carrier]string{
		carrierMobile:  "134 135 136 137 138 139 147 148 150 151 152 157 158 159 172 178 182 183 184 187 188 195 197 198",
		carrierUnicom:  "130 131 132 145 146 155 156 166 167 171 175 176 185 186 196",
		carrierTelecom: "133 149 153 173 174 177 180 181 189 190 191 193 199",
	} {
		for _, p := range strings.Fields(prefixes) {
			m[p] = c
		}
	}
	return m
}()

// carrierOf returns the operator of a normalised mobile number, or the zero
// carrier (empty names) when the prefix is not known.
func carrierOf(phone string) carrier {
	if len(phone) < 3 {
		return carrier{}
	}
	return carrierPrefixes[phone[:3]]
}
