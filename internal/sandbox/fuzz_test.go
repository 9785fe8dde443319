package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
