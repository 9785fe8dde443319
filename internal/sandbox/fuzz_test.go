package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzServeHTTP feeds arbitrary query strings and form bodies to the gateway:
// it must never panic, must answer JSON with a known gateway code, and its
// canonicaliser must agree with the test signer on every parameter set it
// accepts.
func FuzzServeHTTP(f *testing.F) {
	f.Add("Action=BspIdCardAuth&Nonce=1&Timestamp=1700000000&SecretId=id&Signature=abc%3D&orderNo=1&name=%E5%BC%A0%E4%B8%89&idNumber=11010119900307123X", "", false)
	f.Add("", "Action=BspMobileAuth3&Nonce=99&SignatureMethod=HmacSHA256&a_b=1&a.b=2", true)
	f.Add("a=1&a=2&%zz", "name=%00", true)
	f.Add("Timestamp=-1&Nonce=0;x=1", "", false)
	f.Add("instanceIds_0=ins-09dx96dg&limit=20&Signature=%2B%2F%3D", "offset=0", true)

	srv, err := New(Config{
		Credentials: map[string]string{"id": "key"},
		Now:         func() time.Time { return time.Unix(1_700_000_000, 0) },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query, body string, post bool) {
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "http://sandbox.test/v2/index.php", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
		var r response
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("body %q: %v", rec.Body.Bytes(), err)
		}
		if r.Code != 0 && codeDesc(r.Code) == "UnknownError" {
			t.Fatalf("unknown gateway code %d", r.Code)
		}

		// Differential check of the canonicaliser against the test signer.
		req = httptest.NewRequest(method, "http://sandbox.test/v2/index.php", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		params, gerr := readParams(httptest.NewRecorder(), req)
		if gerr != nil {
			return
		}
		src := stringToSign(method, "sandbox.test", apiPath, params)
		if !strings.HasPrefix(src, method+"sandbox.test"+apiPath+"?") {
			t.Fatalf("source %q lacks its prefix", src)
		}
		for _, sm := range []string{hmacSHA1, hmacSHA256} {
			sig := testSign(method, "sandbox.test", apiPath, params, "key", sm)
			if !signatureValid(sm, "key", src, sig) {
				t.Fatalf("%s: the sandbox rejects the test signer's signature of %q", sm, src)
			}
		}
	})
}

// FuzzServeRoot feeds arbitrary bodies, actions and queries to the two
// protocols served at "/": they must never panic and must answer in their
// own JSON shape; a request signed by the test signers must never fail
// authentication, whatever it carries (a differential check of both
// canonicalisers).
func FuzzServeRoot(f *testing.F) {
	f.Add(`{"IdCard":"11010119900307123X","Name":"张三"}`, "IdCardVerification", "Action=Id2MetaVerify&ParamType=normal&UserName=%E5%BC%A0", false)
	f.Add(`{"Name":"a","CertType":1.5,"BankCard":null}`, "BankCardVerification", "a=1&a=2&%zz", true)
	f.Add("", "", "Mobile=+86 138*~&IdentifyNum=x", true)
	f.Add(`[1,2]`, "PhoneVerification\n", "Timestamp=2023-11-14T22:13:20Z&Version=2019-03-07", false)

	const id, key = "id", "key"
	now := time.Unix(1_700_000_000, 0)
	srv, err := New(Config{Credentials: map[string]string{id: key}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, action, query string, post bool) {
		// Tencent API 3.0.
		req := httptest.NewRequest(http.MethodPost, "http://sandbox.test/", strings.NewReader(body))
		const ct = "application/json; charset=utf-8"
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-TC-Action", action)
		req.Header.Set("X-TC-Version", "2018-03-01")
		ts := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set("X-TC-Timestamp", ts)
		req.Header.Set("Authorization", testTC3Authorization(id, key, "faceid", now.UTC().Format("2006-01-02"), ts,
			[]string{"content-type", "host"}, map[string]string{"content-type": ct, "host": "sandbox.test"}, []byte(body)))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var v3 tc3Resp
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &v3) != nil {
			t.Fatalf("v3: HTTP %d %q", rec.Code, rec.Body.Bytes())
		}
		if e := v3.Response.Error; e != nil && strings.HasPrefix(e.Code, "AuthFailure") {
			t.Fatalf("v3: the test signer's request was refused: %+v", e)
		}
		if (v3.Response.Error == nil) == (v3.Response.Result == nil) || v3.Response.RequestID == "" {
			t.Fatalf("v3: want exactly one of Error and Result: %q", rec.Body.Bytes())
		}

		// Alibaba Cloud: the fuzzed query, plus signed common parameters.
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req = httptest.NewRequest(method, "http://sandbox.test/", nil)
		req.URL.RawQuery = query
		params, rerr := readRPCParams(httptest.NewRecorder(), req)
		if rerr != nil {
			return
		}
		vals := url.Values{}
		for k, s := range params {
			vals.Set(k, s)
		}
		for k, s := range map[string]string{"AccessKeyId": id, "Version": "2019-03-07", "SignatureMethod": "HMAC-SHA1",
			"SignatureVersion": "1.0", "SignatureNonce": "n" + nextNonce(), "Timestamp": now.UTC().Format("2006-01-02T15:04:05Z")} {
			vals.Set(k, s)
		}
		if vals.Get("Action") == "" {
			vals.Set("Action", "Id2MetaVerify")
		}
		vals.Del("Signature")
		sig := testRPCSign(method, vals, key)
		signed := map[string]string{}
		for k := range vals {
			signed[k] = vals.Get(k)
		}
		if !rpcSignatureValid(key, rpcStringToSign(method, signed), sig) {
			t.Fatalf("the sandbox rejects the test signer's signature of %v", vals)
		}
		vals.Set("Signature", sig)
		if post {
			req = httptest.NewRequest(http.MethodPost, "http://sandbox.test/", strings.NewReader(vals.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(http.MethodGet, "http://sandbox.test/", nil)
			req.URL.RawQuery = vals.Encode()
		}
		rec = httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var r rpcResp
		if json.Unmarshal(rec.Body.Bytes(), &r) != nil || r.Code == "" || r.RequestID == "" {
			t.Fatalf("aliyun: HTTP %d %q", rec.Code, rec.Body.Bytes())
		}
		if r.Code == "SignatureDoesNotMatch" || r.Code == "InvalidAccessKeyId.NotFound" || r.Code == "MissingParameter" {
			t.Fatalf("aliyun: the test signer's request was refused: %+v", r)
		}
	})
}
