package tencentv2

import (
	"strings"
	"testing"
)

// classicParams are the parameters of Tencent's classic v2 example, the one
// vector of the guide's family that reproduces (spec/tencent-v2.md).
func classicParams() map[string]string {
	return map[string]string{
		"Action":        "DescribeInstances",
		"Nonce":         "11886",
		"Region":        "gz",
		"SecretId":      "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA",
		"Timestamp":     "1465185768",
		"instanceIds_0": "ins-09dx96dg",
		"limit":         "20",
		"offset":        "0",
	}
}

const classicKey = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA"

func TestSignVectors(t *testing.T) {
	t.Parallel()
	withSHA256 := classicParams()
	withSHA256["SignatureMethod"] = "HmacSHA256"
	idcard := map[string]string{
		"Action": "BspIdCardAuth", "Nonce": "13029", "Region": "all",
		"SecretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "Timestamp": "1463122059",
		"idNumber": "11010519491231002X", "name": "张三", "orderNo": "A-1",
		// A Signature already present is not part of the signed string.
		"Signature": "ignored",
	}
	cases := []struct {
		name       string
		key        string
		method     string
		host       string
		params     map[string]string
		sm         SignatureMethod
		wantSource string
		wantSig    string
	}{
		{
			name: "classic v2 example (reproduces)", key: classicKey, method: "GET", host: "cvm.api.qcloud.com",
			params: classicParams(), sm: HmacSHA1,
			wantSource: "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&Nonce=11886&Region=gz&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768&instanceIds.0=ins-09dx96dg&limit=20&offset=0",
			wantSig:    "NSI3UqqD99b/UJb4tbG/xZpRW64=",
		},
		{
			// Derived with: printf %s SOURCE | openssl dgst -sha256 -hmac KEY -binary | base64
			name: "classic example with HmacSHA256", key: classicKey, method: "get", host: "cvm.api.qcloud.com",
			params: withSHA256, sm: HmacSHA256,
			wantSource: "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&Nonce=11886&Region=gz&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&SignatureMethod=HmacSHA256&Timestamp=1465185768&instanceIds.0=ins-09dx96dg&limit=20&offset=0",
			wantSig:    "PSWUwVv4TfW2sQP1FT9KbbLjIZ9bmK8f1cL6fbpf3KI=",
		},
		{
			// Derived with openssl as above (SHA-1); raw UTF-8 values.
			name: "BspIdCardAuth POST with raw Han name", key: classicKey, method: "POST", host: "csec.api.qcloud.com",
			params: idcard, sm: HmacSHA1,
			wantSource: "POSTcsec.api.qcloud.com/v2/index.php?Action=BspIdCardAuth&Nonce=13029&Region=all&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1463122059&idNumber=11010519491231002X&name=张三&orderNo=A-1",
			wantSig:    "OUHThqeChXUfxmr9FjUtcnx4ANc=",
		},
		{
			// The seed's own example does not give the printed
			// yvImfESYa0C1WMcHTX+KuA2BFOs=; this is what its inputs give.
			name: "seed GetDsaHostList example (erratum)", key: "pxPgRWDbCy86ZYyqBTDk7WmeRZSmPco0", method: "GET", host: "dsa.api.qcloud.com",
			params:     map[string]string{"Action": "GetDsaHostList", "Nonce": "13029", "Region": "all", "SecretId": "AKIDT8G5AsY1D3MChWooNq1rFSw1fyBVCX9D", "Timestamp": "1463122059"},
			sm:         HmacSHA1,
			wantSource: "GETdsa.api.qcloud.com/v2/index.php?Action=GetDsaHostList&Nonce=13029&Region=all&SecretId=AKIDT8G5AsY1D3MChWooNq1rFSw1fyBVCX9D&Timestamp=1463122059",
			wantSig:    "raRg3cxgDV+yOkwai7nytOcJaZY=",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := StringToSign(tc.method, tc.host, DefaultPath, tc.params)
			if src != tc.wantSource {
				t.Fatalf("source\n got %s\nwant %s", src, tc.wantSource)
			}
			if got := Sign(tc.key, tc.sm, src); got != tc.wantSig {
				t.Fatalf("signature = %s, want %s", got, tc.wantSig)
			}
		})
	}
}

func TestStringToSignSortsByteOrder(t *testing.T) {
	t.Parallel()
	// Upper case sorts before lower case in byte order, and "." (from "_")
	// before letters.
	got := StringToSign("POST", "h", "/p", map[string]string{"b": "1", "B": "2", "a_b": "3", "a": "4", "ab": "5"})
	want := "POSTh/p?B=2&a=4&a.b=3&ab=5&b=1"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Values keep their underscores and are not encoded.
	got = StringToSign("GET", "h", "/p", map[string]string{"k_1": "v_1 +/="})
	if want := "GETh/p?k.1=v_1 +/="; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestParseSignatureMethod(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]SignatureMethod{"": HmacSHA1, "HmacSHA1": HmacSHA1, "HmacSHA256": HmacSHA256} {
		got, err := ParseSignatureMethod(in)
		if err != nil || got != want {
			t.Errorf("ParseSignatureMethod(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseSignatureMethod("hmacsha1"); err == nil || !strings.Contains(err.Error(), "HmacSHA256") {
		t.Errorf("want an error naming the choices, got %v", err)
	}
}

func FuzzStringToSign(f *testing.F) {
	f.Add("GET", "csec.api.qcloud.com", "a_b", "x&y=z", "B", "张三")
	f.Fuzz(func(t *testing.T, method, host, k1, v1, k2, v2 string) {
		params := map[string]string{k1: v1, k2: v2}
		src := StringToSign(method, host, DefaultPath, params)
		if !strings.HasPrefix(src, strings.ToUpper(method)+host+DefaultPath+"?") {
			t.Fatalf("source %q lacks its prefix", src)
		}
		// Deterministic whatever the map's iteration order.
		if again := StringToSign(method, host, DefaultPath, params); again != src {
			t.Fatalf("not deterministic: %q vs %q", src, again)
		}
		if k1 != ParamSignature && !strings.Contains(src, strings.ReplaceAll(k1, "_", ".")+"=") {
			t.Fatalf("key %q missing from %q", k1, src)
		}
	})
}
