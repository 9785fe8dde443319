package tencentv3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the signature algorithm of API 3.0; it opens the string to
// sign and the Authorization header.
const Algorithm = "TC3-HMAC-SHA256"

// The signing functions below are exported one step at a time, rather than
// as a single Sign, so that a command can print every intermediate form of a
// failing request (canonical request, string to sign) for an operator to
// compare with what Tencent's own tools compute: AuthFailure.SignatureFailure
// says nothing about which step went wrong.

// SHA256Hex returns the lower-case hex SHA-256 of b: the last line of the
// canonical request for the body, and the last line of the string to sign
// for the canonical request.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CanonicalRequest returns the TC3 canonical request and its SignedHeaders
// list.
//
// headers holds the headers to sign, name → value. Names are lower-cased and
// trimmed, values trimmed and lower-cased (Tencent's reference signs
// "x-tc-action:describeinstances"), and the lines are sorted by name. Two
// names that differ only in case are one header, whose values are sorted and
// joined with ","; a map's iteration order never changes the result. The
// method is upper-cased; uri is the request path ("/" when empty) and query
// the raw query string (empty for POST).
func CanonicalRequest(method, uri, query string, headers map[string]string, payload []byte) (canonical, signedHeaders string) {
	type header struct{ name, value string }
	hs := make([]header, 0, len(headers))
	for k, v := range headers {
		hs = append(hs, header{strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))})
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].name != hs[j].name {
			return hs[i].name < hs[j].name
		}
		return hs[i].value < hs[j].value
	})

	var lines, names strings.Builder
	for i := 0; i < len(hs); {
		j := i + 1
		values := []string{hs[i].value}
		for j < len(hs) && hs[j].name == hs[i].name {
			values = append(values, hs[j].value)
			j++
		}
		if names.Len() > 0 {
			names.WriteByte(';')
		}
		names.WriteString(hs[i].name)
		lines.WriteString(hs[i].name + ":" + strings.Join(values, ",") + "\n")
		i = j
	}

	if uri == "" {
		uri = "/"
	}
	signedHeaders = names.String()
	canonical = strings.Join([]string{
		strings.ToUpper(method),
		uri,
		query,
		lines.String(),
		signedHeaders,
		SHA256Hex(payload),
	}, "\n")
	return canonical, signedHeaders
}

// Date returns the credential scope's date of a Unix timestamp: its UTC
// date. Tencent checks the date against the timestamp, so the local date
// would fail every request signed between midnight local time and midnight
// UTC.
func Date(timestamp int64) string {
	return time.Unix(timestamp, 0).UTC().Format(time.DateOnly)
}

// CredentialScope returns "Date/service/tc3_request".
func CredentialScope(timestamp int64, service string) string {
	return Date(timestamp) + "/" + service + "/tc3_request"
}

// StringToSign returns the TC3 string to sign of a canonical request.
func StringToSign(timestamp int64, service, canonicalRequest string) string {
	return Algorithm + "\n" +
		strconv.FormatInt(timestamp, 10) + "\n" +
		CredentialScope(timestamp, service) + "\n" +
		SHA256Hex([]byte(canonicalRequest))
}

// Signature returns the hex TC3 signature of stringToSign, with the signing
// key derived from secretKey, the timestamp's UTC date and service.
func Signature(secretKey string, timestamp int64, service, stringToSign string) string {
	kDate := hmacSHA256([]byte("TC3"+secretKey), Date(timestamp))
	kService := hmacSHA256(kDate, service)
	kSigning := hmacSHA256(kService, "tc3_request")
	return hex.EncodeToString(hmacSHA256(kSigning, stringToSign))
}

// Authorization returns the value of the Authorization header.
func Authorization(secretID string, timestamp int64, service, signedHeaders, signature string) string {
	return Algorithm +
		" Credential=" + secretID + "/" + CredentialScope(timestamp, service) +
		", SignedHeaders=" + signedHeaders +
		", Signature=" + signature
}

func hmacSHA256(key []byte, msg string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}
