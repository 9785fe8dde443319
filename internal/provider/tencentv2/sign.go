package tencentv2

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"sort"
	"strings"
)

// SignatureMethod names the HMAC the v2 gateway verifies a request with.
type SignatureMethod string

// The signature methods of the v2 API. HmacSHA1 is the gateway's default and
// is not sent on the wire; HmacSHA256 is announced by the SignatureMethod
// parameter, which is then part of the signed string like every other one.
const (
	HmacSHA1   SignatureMethod = "HmacSHA1"
	HmacSHA256 SignatureMethod = "HmacSHA256"
)

// ParseSignatureMethod returns the method named s; the empty string means
// HmacSHA1.
func ParseSignatureMethod(s string) (SignatureMethod, error) {
	switch SignatureMethod(s) {
	case "", HmacSHA1:
		return HmacSHA1, nil
	case HmacSHA256:
		return HmacSHA256, nil
	}
	return "", fmt.Errorf("signature method %q: want HmacSHA1 or HmacSHA256", s)
}

func (m SignatureMethod) hash() func() hash.Hash {
	if m == HmacSHA256 {
		return sha256.New
	}
	return sha1.New
}

// DefaultPath is the request path of every v2 API.
const DefaultPath = "/v2/index.php"

// StringToSign returns the v2 source string for a request: the upper-case
// method, the host, the path, "?" and the parameters sorted by key and joined
// as key=value with "&". Values are used raw, never URL-encoded; an "_" in a
// key becomes "."; a "Signature" parameter is left out.
func StringToSign(method, host, path string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	canon := make(map[string]string, len(params))
	for k, v := range params {
		if k == ParamSignature {
			continue
		}
		ck := strings.ReplaceAll(k, "_", ".")
		keys = append(keys, ck)
		canon[ck] = v
	}
	sort.Strings(keys)

	var b strings.Builder
	b.WriteString(strings.ToUpper(method))
	b.WriteString(host)
	b.WriteString(path)
	b.WriteByte('?')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(canon[k])
	}
	return b.String()
}

// Sign returns base64(HMAC(secretKey, source)) with the hash of m.
func Sign(secretKey string, m SignatureMethod, source string) string {
	mac := hmac.New(m.hash(), []byte(secretKey))
	mac.Write([]byte(source))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
