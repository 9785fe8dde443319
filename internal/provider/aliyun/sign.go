package aliyun

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
)

// ParamSignature is the parameter that carries the signature. It is never
// part of the signed string.
const ParamSignature = "Signature"

// PercentEncode encodes s as the RPC signature requires (RFC 3986): the
// unreserved characters A-Z a-z 0-9 - _ . ~ stay as they are, every other
// byte of s's UTF-8 becomes %XY with upper-case hex. Space is %20 (never
// "+"), "*" is %2A and "~" stays: the three places where url.QueryEscape
// differs.
func PercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

func unreserved(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	}
	return false
}

// CanonicalQuery returns the canonicalized query string of params: every
// parameter except Signature, sorted by key in byte order, each key and value
// percent-encoded, joined as k=v with "&".
func CanonicalQuery(params map[string]string) string {
	return encode(params, false)
}

// encode joins params sorted by key as percent-encoded k=v pairs. With
// withSignature the Signature parameter is included in its sorted place,
// which is what goes on the wire; without it, what is signed.
func encode(params map[string]string, withSignature bool) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k == ParamSignature && !withSignature {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(PercentEncode(k))
		b.WriteByte('=')
		b.WriteString(PercentEncode(params[k]))
	}
	return b.String()
}

// StringToSign returns the string an RPC request signs: the HTTP method,
// "&", the encoded "/", "&", and the encoded canonical query of params. The
// method is the one the request is sent with: POST for a form body.
func StringToSign(method string, params map[string]string) string {
	return strings.ToUpper(method) + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalQuery(params))
}

// Sign returns the signature of stringToSign: base64(HMAC-SHA1(key,
// stringToSign)) with the key accessKeySecret + "&".
func Sign(accessKeySecret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(accessKeySecret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
