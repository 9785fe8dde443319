package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file holds deliberately separate, minimal signers for Tencent API 3.0
// and Alibaba Cloud RPC, written for the tests only: the sandbox's own
// verifiers must agree with them (and with the specs' vectors). They are not
// shared with the client packages.

// testTC3Authorization signs a POST / for Tencent API 3.0. headers maps
// lower-case header names to the values sent; signed lists the names to
// sign, in order.
func testTC3Authorization(secretID, secretKey, service, date, timestamp string, signed []string, headers map[string]string, body []byte) string {
	var canonHeaders string
	for _, n := range signed {
		canonHeaders += n + ":" + strings.ToLower(strings.TrimSpace(headers[n])) + "\n"
	}
	payload := sha256.Sum256(body)
	canonical := strings.Join([]string{"POST", "/", "", canonHeaders, strings.Join(signed, ";"), hex.EncodeToString(payload[:])}, "\n")
	hashed := sha256.Sum256([]byte(canonical))
	scope := date + "/" + service + "/tc3_request"
	sts := "TC3-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + hex.EncodeToString(hashed[:])
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		io.WriteString(h, s)
		return h.Sum(nil)
	}
	k := mac(mac(mac([]byte("TC3"+secretKey), date), service), "tc3_request")
	sig := hex.EncodeToString(mac(k, sts))
	return fmt.Sprintf("TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", secretID, scope, strings.Join(signed, ";"), sig)
}

// testRPCSign signs Alibaba Cloud RPC parameters the way the classic SDKs
// do: url.QueryEscape, then the three substitutions that make it RFC 3986.
func testRPCSign(method string, params url.Values, secret string) string {
	enc := func(s string) string {
		s = url.QueryEscape(s)
		s = strings.ReplaceAll(s, "+", "%20")
		s = strings.ReplaceAll(s, "*", "%2A")
		return strings.ReplaceAll(s, "%7E", "~")
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = enc(k) + "=" + enc(params.Get(k))
	}
	sts := method + "&" + enc("/") + "&" + enc(strings.Join(pairs, "&"))
	h := hmac.New(sha1.New, []byte(secret+"&"))
	h.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// tc3Call describes one Tencent API 3.0 request.
type tc3Call struct {
	action    string
	body      map[string]any // marshalled as JSON
	rawBody   string         // sent instead of body when set
	secretID  string         // defaults to testID
	secretKey string         // defaults to testKey
	timestamp int64          // defaults to the clock's now
	version   string         // defaults to 2018-03-01; "-" sends none
	service   string         // defaults to faceid
	date      string         // the credential date; defaults to the UTC date of timestamp
	signed    []string       // defaults to content-type, host
	// edit changes the request after signing: tampering.
	edit func(*http.Request)
}

// tc3Resp is a decoded Tencent API 3.0 answer.
type tc3Resp struct {
	Response struct {
		Result       *string
		Description  string
		Isp          string
		ResultDetail string
		RequestID    string `json:"RequestId"`
		Error        *struct{ Code, Message string }
	}
	header http.Header
}

func (r tc3Resp) errorCode() string {
	if r.Response.Error == nil {
		return ""
	}
	return r.Response.Error.Code
}

func (r tc3Resp) result() string {
	if r.Response.Result == nil {
		return ""
	}
	return *r.Response.Result
}

// tc3Request builds a signed request.
func (b *bundle) tc3Request(t *testing.T, c tc3Call) *http.Request {
	t.Helper()
	body := []byte(c.rawBody)
	if c.rawBody == "" {
		var err error
		if body, err = json.Marshal(c.body); err != nil {
			t.Fatal(err)
		}
	}
	ts := c.timestamp
	if ts == 0 {
		ts = b.clock.Now().Unix()
	}
	date := cmpOr(c.date, time.Unix(ts, 0).UTC().Format("2006-01-02"))
	req, err := http.NewRequest(http.MethodPost, b.ts.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	const ct = "application/json; charset=utf-8"
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-TC-Action", c.action)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	switch c.version {
	case "":
		req.Header.Set("X-TC-Version", "2018-03-01")
	case "-":
	default:
		req.Header.Set("X-TC-Version", c.version)
	}
	signed := c.signed
	if signed == nil {
		signed = []string{"content-type", "host"}
	}
	headers := map[string]string{"content-type": ct, "host": req.URL.Host, "x-tc-action": c.action}
	req.Header.Set("Authorization", testTC3Authorization(cmpOr(c.secretID, testID), cmpOr(c.secretKey, testKey),
		cmpOr(c.service, "faceid"), date, strconv.FormatInt(ts, 10), signed, headers, body))
	if c.edit != nil {
		c.edit(req)
	}
	return req
}

// tc3 sends c and decodes the answer; it fails unless the answer is HTTP
// 200 JSON.
func (b *bundle) tc3(t *testing.T, c tc3Call) tc3Resp {
	t.Helper()
	resp, err := b.client.Do(b.tc3Request(t, c))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	raw := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", c.action, resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var r tc3Resp
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	r.header = resp.Header
	return r
}

// tc3Result sends c and fails unless it got a business answer; it returns
// the Result.
func (b *bundle) tc3Result(t *testing.T, c tc3Call) string {
	t.Helper()
	r := b.tc3(t, c)
	if r.Response.Error != nil || r.Response.Result == nil {
		t.Fatalf("%s: got error %+v, want a Result", c.action, r.Response.Error)
	}
	desc, _, ok := TencentV3ResultInfo(c.action, r.result())
	if !ok || r.Response.Description != desc {
		t.Errorf("%s: Result %s with Description %q, want %q", c.action, r.result(), r.Response.Description, desc)
	}
	return r.result()
}

// tc3Body returns the JSON fields of action for an identity.
func tc3Body(action, name, id, phone, card string) map[string]any {
	m := map[string]any{"Name": name, "IdCard": id}
	switch action {
	case ActionPhoneVerification:
		m["Phone"] = phone
	case ActionBankCardVerification:
		m["BankCard"] = card
		m["CertType"] = 0
	case ActionBankCard4EVerification:
		m["BankCard"] = card
		m["Phone"] = phone
		m["CertType"] = 0
	}
	return m
}

// rpcCall describes one Alibaba Cloud RPC request.
type rpcCall struct {
	method    string // defaults to GET
	action    string
	business  map[string]string
	accessKey string // defaults to testID
	secret    string // defaults to testKey
	nonce     string // defaults to a fresh one
	timestamp string // defaults to the clock's now
	// edit changes the signed parameters before they are sent: tampering.
	edit func(url.Values)
}

// rpcResp is a decoded Alibaba Cloud answer, service or gateway.
type rpcResp struct {
	status       int
	RequestID    string `json:"RequestId"`
	HostID       string `json:"HostId"`
	Code         string
	Message      string
	Recommend    string
	ResultObject *struct{ BizCode, SubCode, IspName string }
}

func (b *bundle) rpcParams(c rpcCall) url.Values {
	v := url.Values{}
	v.Set("AccessKeyId", cmpOr(c.accessKey, testID))
	v.Set("Action", c.action)
	v.Set("Format", "JSON")
	v.Set("Version", "2019-03-07")
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureVersion", "1.0")
	v.Set("SignatureNonce", cmpOr(c.nonce, "nonce-"+nextNonce()))
	v.Set("Timestamp", cmpOr(c.timestamp, b.clock.Now().UTC().Format("2006-01-02T15:04:05Z")))
	v.Set("RegionId", "cn-shanghai") // sent by the SDKs, ignored
	for k, s := range c.business {
		v.Set(k, s)
	}
	v.Set("Signature", testRPCSign(cmpOr(c.method, http.MethodGet), v, cmpOr(c.secret, testKey)))
	if c.edit != nil {
		c.edit(v)
	}
	return v
}

// rpc sends c and decodes the answer.
func (b *bundle) rpc(t *testing.T, c rpcCall) rpcResp {
	t.Helper()
	v := b.rpcParams(c)
	var req *http.Request
	var err error
	if cmpOr(c.method, http.MethodGet) == http.MethodPost {
		req, err = http.NewRequest(http.MethodPost, b.ts.URL+"/", strings.NewReader(v.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(http.MethodGet, b.ts.URL+"/?"+v.Encode(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	raw := readAll(t, resp)
	var r rpcResp
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("HTTP %d: decoding %s: %v", resp.StatusCode, raw, err)
	}
	r.status = resp.StatusCode
	return r
}

// rpcAnswerOf sends c and fails unless it got a Code 200 answer.
func (b *bundle) rpcAnswerOf(t *testing.T, c rpcCall) AliyunAnswer {
	t.Helper()
	r := b.rpc(t, c)
	if r.status != http.StatusOK || r.Code != "200" || r.ResultObject == nil || r.Message != "success" {
		t.Fatalf("%s: HTTP %d Code %s %q, want an answer", c.action, r.status, r.Code, r.Message)
	}
	return AliyunAnswer{Code: r.Code, BizCode: r.ResultObject.BizCode, SubCode: r.ResultObject.SubCode}
}

// rpcBusiness returns the business parameters of action for an identity;
// for BankMetaVerify, bank4 picks BANK_CARD_4_META.
func rpcBusiness(action, name, id, phone, card string, bank4 bool) map[string]string {
	m := map[string]string{"ParamType": "normal", "UserName": name, "IdentifyNum": id}
	switch action {
	case ActionMobile3MetaSimpleVerify, ActionMobile3MetaDetailVerify:
		m["Mobile"] = phone
	case ActionBankMetaVerify:
		m["VerifyMode"] = "VERIFY_BANK_CARD"
		m["BankCard"] = card
		m["IdentityType"] = "01"
		m["ProductType"] = "BANK_CARD_3_META"
		if bank4 {
			m["ProductType"] = "BANK_CARD_4_META"
			m["Mobile"] = phone
		}
	}
	return m
}
