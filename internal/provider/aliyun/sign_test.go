package aliyun

import (
	"net/url"
	"strings"
	"testing"
)

// vectorParams are the parameters of Alibaba Cloud's documented RPC
// signature example (spec/aliyun-cloudauth.md).
func vectorParams() map[string]string {
	return map[string]string{
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"Format":           "XML",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"SignatureVersion": "1.0",
		"Timestamp":        "2016-02-23T12:46:24Z",
		"Version":          "2014-05-26",
	}
}

func TestSignVector(t *testing.T) {
	t.Parallel()
	const (
		wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
		wantSig = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
	)
	params := vectorParams()
	sts := StringToSign("GET", params)
	if sts != wantSTS {
		t.Fatalf("string to sign\n got %s\nwant %s", sts, wantSTS)
	}
	if got := Sign("testsecret", sts); got != wantSig {
		t.Fatalf("signature = %s, want %s", got, wantSig)
	}
	// A Signature already present is not signed, and the method is
	// upper-cased.
	params[ParamSignature] = wantSig
	if got := StringToSign("get", params); got != wantSTS {
		t.Fatalf("with Signature present or lower-case method: %s", got)
	}
}

func TestPercentEncode(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"", ""},
		{"AZaz09-_.~", "AZaz09-_.~"},
		{" ", "%20"},
		{"*", "%2A"},
		{"~", "~"},
		{"+", "%2B"},
		{"/", "%2F"},
		{"=&", "%3D%26"},
		{":", "%3A"},
		{"%", "%25"},
		{"张三", "%E5%BC%A0%E4%B8%89"},
		{"\x00\xff", "%00%FF"},
		{"a b*c~d", "a%20b%2Ac~d"},
	}
	for _, tc := range cases {
		if got := PercentEncode(tc.in); got != tc.want {
			t.Errorf("PercentEncode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	// Byte order: upper case before lower case; Signature left out; keys
	// and values encoded.
	got := CanonicalQuery(map[string]string{"b": "1", "B": "2", "a b": "x y", "Signature": "s", "A": "*"})
	if want := "A=%2A&B=2&a%20b=x%20y&b=1"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// On the wire, Signature takes its sorted place.
	if got, want := encode(map[string]string{"Z": "1", "Signature": "a+b/c=", "A": "2"}, true), "A=2&Signature=a%2Bb%2Fc%3D&Z=1"; got != want {
		t.Fatalf("wire encoding %s, want %s", got, want)
	}
	if got := CanonicalQuery(nil); got != "" {
		t.Fatalf("empty params: %q", got)
	}
}

func FuzzPercentEncode(f *testing.F) {
	for _, s := range []string{"", "a b", "*~", "张三", "\xff\x00", "%41", "a+b/c="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := PercentEncode(s)
		back, err := url.PathUnescape(enc)
		if err != nil || back != s {
			t.Fatalf("PathUnescape(PercentEncode(%q)) = %q, %v", s, back, err)
		}
		// Only unreserved characters appear bare; every escape is %XY
		// with upper-case hex, and stands for a byte that is reserved.
		for i := 0; i < len(enc); i++ {
			c := enc[i]
			if c != '%' {
				if !unreserved(c) {
					t.Fatalf("%q left %q unescaped in %q", s, c, enc)
				}
				continue
			}
			if i+2 >= len(enc) || !strings.ContainsRune("0123456789ABCDEF", rune(enc[i+1])) || !strings.ContainsRune("0123456789ABCDEF", rune(enc[i+2])) {
				t.Fatalf("bad escape at %d in %q", i, enc)
			}
			b := unhex(enc[i+1])<<4 | unhex(enc[i+2])
			if unreserved(b) {
				t.Fatalf("unreserved %q escaped in %q", b, enc)
			}
			i += 2
		}
	})
}

func unhex(c byte) byte {
	if c >= 'A' {
		return c - 'A' + 10
	}
	return c - '0'
}
