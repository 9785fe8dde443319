package tencentv3

import (
	"strings"
	"testing"
)

// cvmBody is the body of Tencent's published CVM example; the \u escapes
// are literal text, six characters each.
const cvmBody = `{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`

// TestSignVectors reproduces both vectors of spec/tencent-v3-faceid.md step
// by step, so a failure names the step that went wrong.
func TestSignVectors(t *testing.T) {
	t.Parallel()
	const (
		timestamp = 1551113065
		secretID  = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA"
		bodyHash  = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
	)
	cases := []struct {
		name          string
		key           string
		headers       map[string]string
		wantSigned    string
		wantCanonical string
		wantCanonHash string
		wantSignature string
	}{
		{
			name: "content-type;host",
			key:  "Gu5t9xGARNpq86cd98joQYCN3*******",
			headers: map[string]string{
				"Content-Type": "application/json; charset=utf-8",
				"Host":         "cvm.tencentcloudapi.com",
			},
			wantSigned: "content-type;host",
			wantCanonical: "POST\n/\n\n" +
				"content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n" +
				"content-type;host\n" + bodyHash,
			wantCanonHash: "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
			wantSignature: "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
		},
		{
			name: "content-type;host;x-tc-action, value lower-cased",
			key:  strings.Repeat("*", 32),
			headers: map[string]string{
				"X-TC-Action":  "DescribeInstances",
				"Host":         "cvm.tencentcloudapi.com",
				"Content-Type": "application/json; charset=utf-8",
			},
			wantSigned: "content-type;host;x-tc-action",
			wantCanonical: "POST\n/\n\n" +
				"content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n\n" +
				"content-type;host;x-tc-action\n" + bodyHash,
			wantCanonHash: "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
			wantSignature: "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f",
		},
	}
	if got := SHA256Hex([]byte(cvmBody)); got != bodyHash {
		t.Fatalf("hash of body = %s, want %s", got, bodyHash)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canonical, signed := CanonicalRequest("post", "/", "", tc.headers, []byte(cvmBody))
			if signed != tc.wantSigned {
				t.Fatalf("SignedHeaders = %q, want %q", signed, tc.wantSigned)
			}
			if canonical != tc.wantCanonical {
				t.Fatalf("canonical request:\n%q\nwant\n%q", canonical, tc.wantCanonical)
			}
			if got := SHA256Hex([]byte(canonical)); got != tc.wantCanonHash {
				t.Fatalf("hash of canonical request = %s, want %s", got, tc.wantCanonHash)
			}
			sts := StringToSign(timestamp, "cvm", canonical)
			wantSTS := "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n" + tc.wantCanonHash
			if sts != wantSTS {
				t.Fatalf("string to sign:\n%q\nwant\n%q", sts, wantSTS)
			}
			sig := Signature(tc.key, timestamp, "cvm", sts)
			if sig != tc.wantSignature {
				t.Fatalf("signature = %s, want %s", sig, tc.wantSignature)
			}
			auth := Authorization(secretID, timestamp, "cvm", signed, sig)
			wantAuth := "TC3-HMAC-SHA256 Credential=" + secretID + "/2019-02-25/cvm/tc3_request, SignedHeaders=" +
				tc.wantSigned + ", Signature=" + tc.wantSignature
			if auth != wantAuth {
				t.Fatalf("Authorization = %q, want %q", auth, wantAuth)
			}
		})
	}
}

// TestDateIsUTC checks the credential scope's date around midnight: the
// UTC date, whatever the local zone (Beijing is already on the next day).
func TestDateIsUTC(t *testing.T) {
	t.Parallel()
	cases := []struct {
		ts   int64
		want string
	}{
		{1551113065, "2019-02-25"},
		{1551139199, "2019-02-25"}, // 23:59:59 UTC, 07:59:59 the 26th in Beijing
		{1551139200, "2019-02-26"},
		{0, "1970-01-01"},
	}
	for _, tc := range cases {
		if got := Date(tc.ts); got != tc.want {
			t.Errorf("Date(%d) = %s, want %s", tc.ts, got, tc.want)
		}
	}
}

func TestCanonicalHeaders(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		headers    map[string]string
		wantLines  string
		wantSigned string
	}{
		{"trimmed and lower-cased", map[string]string{" Host ": " Example.COM "}, "host:example.com\n", "host"},
		{"sorted", map[string]string{"b": "2", "a": "1", "c": "3"}, "a:1\nb:2\nc:3\n", "a;b;c"},
		{"names equal but for case are one header", map[string]string{"X-A": "two", "x-a": "one"}, "x-a:one,two\n", "x-a"},
		{"none", nil, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canonical, signed := CanonicalRequest("GET", "", "a=1", tc.headers, nil)
			want := "GET\n/\na=1\n" + tc.wantLines + "\n" + tc.wantSigned + "\n" + SHA256Hex(nil)
			if canonical != want || signed != tc.wantSigned {
				t.Fatalf("got %q, %q\nwant %q, %q", canonical, signed, want, tc.wantSigned)
			}
		})
	}
}

// FuzzCanonicalRequest checks the canonicalizer's invariants on any input:
// deterministic, blind to the case of header names, SignedHeaders sorted and
// lower-case, the last line the payload's hash.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("POST", "/", "", "Content-Type", "application/json; charset=utf-8", "Host", "faceid.tencentcloudapi.com", []byte(cvmBody))
	f.Add("get", "", "a=b", "x-tc-action", " DescribeInstances ", "X-TC-ACTION", "other", []byte{})
	f.Add("", "/p", "", "", "", "a;b", "c:d\ne", []byte("\x00"))
	f.Fuzz(func(t *testing.T, method, uri, query, k1, v1, k2, v2 string, payload []byte) {
		headers := map[string]string{k1: v1, k2: v2}
		canonical, signed := CanonicalRequest(method, uri, query, headers, payload)

		again, signedAgain := CanonicalRequest(method, uri, query, map[string]string{k2: v2, k1: v1}, payload)
		if k1 != k2 && (again != canonical || signedAgain != signed) {
			t.Fatal("result depends on the order of the headers")
		}
		upper := map[string]string{}
		caseFolds := true // ToUpper then ToLower returns to ToLower, as for ASCII
		for k, v := range headers {
			upper[strings.ToUpper(k)] = v
			// Not EqualFold: the question is whether this exact round trip
			// returns to the lower-case form the signer produces.
			//lint:ignore SA6005 the round trip itself is what is compared
			caseFolds = caseFolds && strings.ToLower(strings.ToUpper(k)) == strings.ToLower(k)
		}
		if caseFolds && len(upper) == len(headers) {
			if c, s := CanonicalRequest(method, uri, query, upper, payload); c != canonical || s != signed {
				t.Fatalf("result depends on the case of header names: %q vs %q", s, signed)
			}
		}

		if !strings.HasSuffix(canonical, "\n"+SHA256Hex(payload)) {
			t.Fatal("canonical request does not end with the payload hash")
		}
		if !strings.HasPrefix(canonical, strings.ToUpper(method)+"\n") {
			t.Fatal("canonical request does not start with the upper-case method")
		}
		if signed != strings.ToLower(signed) {
			t.Fatalf("SignedHeaders %q not lower-case", signed)
		}
		// Header names never hold ";" on the wire; with them the list
		// cannot be split back.
		if !strings.Contains(k1+k2, ";") {
			names := strings.Split(signed, ";")
			for i := 1; i < len(names); i++ {
				if names[i-1] >= names[i] {
					t.Fatalf("SignedHeaders %q not sorted and unique", signed)
				}
			}
		}
	})
}
