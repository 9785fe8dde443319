package tencentv2

import "github.com/realname-io/realname/internal/provider"

// authCodeClasses maps bspFivBody.authCode, sent with code 0, onto a class.
// Source: the guide's 错误码 table, restated in spec/tencent-v2.md.
var authCodeClasses = map[string]provider.Class{
	"00": provider.ClassMatch,
	"01": provider.ClassMismatch,     // name does not match
	"03": provider.ClassInvalidCard,  // bank card number wrong
	"05": provider.ClassMismatch,     // data check failed
	"06": provider.ClassMismatch,     // cardholder information wrong
	"07": provider.ClassCardUnusable, // card-not-present payment not enabled
	"09": provider.ClassCardUnusable, // card confiscated
	"10": provider.ClassBadRequest,   // request missing conditions
	"12": provider.ClassInvalidCard,  // invalid card number
	"13": provider.ClassInvalidCard,  // no issuing bank for this card
	"14": provider.ClassCardUnusable, // card not activated / dormant
	"15": provider.ClassCardUnusable, // fraudulent / swallowed card
	"16": provider.ClassCardUnusable, // card reported lost
	"17": provider.ClassCardUnusable, // card expired
	"18": provider.ClassCardUnusable, // restricted card
	"19": provider.ClassCardUnusable, // too many wrong PIN attempts
	"23": provider.ClassCardUnusable, // issuer does not support this
	"98": provider.ClassMismatch,     // verification failed
	"99": provider.ClassBadRequest,   // parameter error
}

// gatewayCodeClasses maps the gateway's own non-zero code onto a class.
// Source: spec/tencent-v2-errors.md.
var gatewayCodeClasses = map[int]provider.Class{
	4000: provider.ClassBadRequest,  // missing or malformed parameter
	4100: provider.ClassCredentials, // signature wrong
	4101: provider.ClassCredentials, // sub-account not authorised for the action
	4102: provider.ClassCredentials, // not authorised for the resource
	4103: provider.ClassCredentials, // non-developer SecretId not supported
	4104: provider.ClassCredentials, // SecretId unknown or disabled
	4105: provider.ClassCredentials, // token check failed
	4106: provider.ClassCredentials, // MFA check failed
	4110: provider.ClassCredentials, // other permission check failed
	4200: provider.ClassReplay,      // request expired
	4300: provider.ClassCredentials, // access denied: account blocked
	4400: provider.ClassThrottled,   // over quota
	4500: provider.ClassReplay,      // Nonce reused or Timestamp off by more than 2 h
	4600: provider.ClassCredentials, // protocol not supported
	5000: provider.ClassBadRequest,  // resource does not exist
	5100: provider.ClassTransient,   // operation failed, try again later
	5200: provider.ClassTransient,   // purchase failed
	5300: provider.ClassCredentials, // insufficient balance
	5400: provider.ClassTransient,   // batch partly succeeded
	5500: provider.ClassCredentials, // account identity not verified
	6000: provider.ClassTransient,   // internal server error
	6100: provider.ClassCredentials, // API not supported here: wrong domain
	6200: provider.ClassTransient,   // API under maintenance
}

// operatorHints tells the operator what to check for the codes that need a
// person; it is appended to the gateway's message in APIError.Error.
var operatorHints = map[int]string{
	4100: "check the SecretKey and the signature method; run `realname sign` to compare string-to-sign",
	4101: "grant the sub-account permission for this action",
	4102: "grant the sub-account permission for this resource",
	4103: "use the developer account's SecretId for this API",
	4104: "check that the SecretId exists and is enabled",
	4110: "check that the account has permission for 实名认证 and that the product is enabled",
	4200: "check the clock of this machine (NTP)",
	4300: "the account is blocked or outside the API's user range",
	4500: "check the clock of this machine (NTP) if this repeats",
	4600: "use HTTPS",
	5300: "top up the Tencent Cloud account",
	5500: "complete the account's identity verification",
	6100: "check the endpoint host",
}

// ClassifyAuthCode returns the class of a business answer (code 0). An
// authCode missing from the table is provider.ClassUnknown, never a match.
func ClassifyAuthCode(authCode string) provider.Class {
	if c, ok := authCodeClasses[authCode]; ok {
		return c
	}
	return provider.ClassUnknown
}

// ClassifyGatewayCode returns the class of a non-zero gateway code.
func ClassifyGatewayCode(code int) provider.Class {
	if c, ok := gatewayCodeClasses[code]; ok {
		return c
	}
	return provider.ClassUnknown
}

// classifyHTTPStatus returns the class of a non-200 HTTP answer whose body is
// not a gateway answer.
func classifyHTTPStatus(status int) provider.Class {
	switch {
	case status == 429:
		return provider.ClassThrottled
	case status >= 500:
		return provider.ClassTransient
	case status == 401, status == 403, status == 404, status == 405:
		// The endpoint or the credentials are misconfigured: a person must
		// act, and retrying would only hide it.
		return provider.ClassCredentials
	}
	return provider.ClassUnknown
}
