package aliyun

import (
	"strings"

	"github.com/realname-io/realname/internal/provider"
)

// Outcome is what one of cloudauth's codes means to us.
type Outcome struct {
	// Class is what the worker does about the code.
	Class provider.Class
	// Billing is whether cloudauth bills an answer with this code.
	Billing provider.Billing
	// Description says what the code means, after cloudauth's documentation.
	Description string
	// Hint tells an operator what to check; empty unless a person must act.
	Hint string
}

// Sources of the tables below:
//
//   - BizCode and SubCode: the response schema of each action in
//     cloudauth's 2019-03-07 OpenAPI metadata (api-docs, mirrored in
//     github.com/dew-serverless/acs-sdk-php data/cloudauth/2019-03-07,
//     version of 2024-07-30, the last that carries the descriptions), which
//     restates the help.aliyun.com API pages; billing per spec/aliyun-cloudauth.md.
//   - Service codes: the "返回码" table of the same pages and
//     help.aliyun.com's "Server-side error codes" page of 信息核验.
//   - Gateway codes: spec/aliyun-cloudauth.md, the 实人认证 FAQ
//     (seeds/aliyun-realperson-faq.txt) and the ID Verification "HTTP status
//     codes" page (Forbidden.*, Throttling.Api).

// Billing shorthands for the tables.
const (
	billed   = provider.Billed
	possibly = provider.PossiblyBilled
	notBill  = provider.NotBilled
)

// bizOutcomes maps, per action, the BizCode, or "BizCode/SubCode" when the
// answer carries a SubCode, onto an outcome. Every entry is definitive. A
// BizCode alone is listed too, for an answer that leaves its SubCode out.
//
// BizCode 3 is not billed for BankMetaVerify; the Id2Meta and Mobile3Meta
// pages say nothing of its billing, so it is possibly billed there.
var bizOutcomes = map[string]map[string]Outcome{
	ActionIDCard: {
		"1": {provider.ClassMatch, billed, "consistent", ""},
		"2": {provider.ClassMismatch, billed, "inconsistent", ""},
		"3": {provider.ClassNoRecord, possibly, "no record", ""},
	},
	ActionMobile3: {
		"1": {provider.ClassMatch, billed, "consistent", ""},
		"2": {provider.ClassMismatch, billed, "inconsistent", ""},
		"3": {provider.ClassNoRecord, possibly, "no record", ""},
	},
	ActionMobile3Detail: {
		"1":     {provider.ClassMatch, billed, "consistent", ""},
		"2":     {provider.ClassMismatch, billed, "inconsistent", ""},
		"3":     {provider.ClassNoRecord, possibly, "no record", ""},
		"1/101": {provider.ClassMatch, billed, "verified", ""},
		"2/201": {provider.ClassMismatch, billed, "the mobile number matches neither the name nor the ID number", ""},
		"2/202": {provider.ClassMismatch, billed, "the mobile number matches the name but not the ID number", ""},
		"2/203": {provider.ClassMismatch, billed, "the mobile number matches the ID number but not the name", ""},
		"2/204": {provider.ClassMismatch, billed, "other inconsistency", ""},
		"3/301": {provider.ClassNoRecord, possibly, "no record", ""},
	},
	ActionBankCard: {
		"1":     {provider.ClassMatch, billed, "consistent", ""},
		"2":     {provider.ClassMismatch, billed, "inconsistent", ""},
		"3":     {provider.ClassNoRecord, notBill, "cannot verify", ""},
		"1/101": {provider.ClassMatch, billed, "verified", ""},
		"2/201": {provider.ClassMismatch, billed, "inconsistent: cardholder information wrong", ""},
		// The card exists but the bank will not verify it: the tencentv2
		// table files "未开通无卡支付" the same way.
		"2/202": {provider.ClassCardUnusable, billed, "inconsistent: card not enabled for authenticated payment", ""},
		"2/203": {provider.ClassCardUnusable, billed, "inconsistent: card expired", ""},
		"2/204": {provider.ClassCardUnusable, billed, "inconsistent: restricted card", ""},
		"2/205": {provider.ClassCardUnusable, billed, "inconsistent: card confiscated", ""},
		"2/206": {provider.ClassInvalidCard, billed, "inconsistent: invalid card", ""},
		"2/207": {provider.ClassInvalidCard, billed, "inconsistent: no issuing bank for this card", ""},
		"2/208": {provider.ClassCardUnusable, billed, "inconsistent: card not activated or dormant", ""},
		"2/209": {provider.ClassCardUnusable, billed, "inconsistent: fraudulent or swallowed card", ""},
		"2/210": {provider.ClassCardUnusable, billed, "inconsistent: card reported lost", ""},
		"2/211": {provider.ClassCardUnusable, billed, "inconsistent: too many wrong PIN attempts", ""},
		"2/212": {provider.ClassCardUnusable, billed, "inconsistent: issuer does not support this transaction", ""},
		"2/213": {provider.ClassCardUnusable, billed, "inconsistent: abnormal card status", ""},
		// The card has no reserved mobile, so the four elements cannot
		// match whoever asks: a property of the card, not of the person.
		"2/214": {provider.ClassCardUnusable, billed, "inconsistent: no mobile number reserved with the card", ""},
		// We send no PIN, expiry date or CVN2; the bank reports the
		// elements it was given as wrong, which is a mismatch.
		"2/215": {provider.ClassMismatch, billed, "inconsistent: PIN, expiry date or CVN2 wrong", ""},
		"2/216": {provider.ClassCardUnusable, billed, "inconsistent: other card anomaly", ""},
		"3/301": {provider.ClassCardUnusable, notBill, "cannot verify: card does not support this service", ""},
		"3/302": {provider.ClassCardUnusable, notBill, "cannot verify: verification failed or refused by the bank; contact the issuer", ""},
		"3/303": {provider.ClassCardUnusable, notBill, "cannot verify: card does not support mobile number verification yet", ""},
		"3/304": {provider.ClassInvalidCard, notBill, "cannot verify: card number wrong", ""},
		"3/305": {provider.ClassNoRecord, notBill, "cannot verify: other reason", ""},
		// Not in any source found (the documented list ends at 305); the
		// spec gives 301-306 as "could not verify", so it is filed with
		// 305, the catch-all, rather than guessed more precisely.
		"3/306": {provider.ClassNoRecord, notBill, "cannot verify (306: undocumented)", ""},
	},
}

// Operator hints shared by several codes.
const (
	hintClock      = "check this machine's clock (NTP)"
	hintPolicy     = "grant the RAM user the AliyunYundunCloudAuthFullAccess policy"
	hintEnable     = "enable 实人认证 (cloudauth) on the Alibaba Cloud account"
	hintArrears    = "the Alibaba Cloud account is in arrears: top it up"
	hintPermission = "check that the AccessKey ID and secret are right, that a RAM user has the AliyunYundunCloudAuthFullAccess policy, " +
		"that 实人认证 (cloudauth) is enabled on the account with its business settings saved in the console, and that the account is not in arrears"
	hintForbidden = "the account or RAM user may not call cloudauth: " + hintPolicy +
		", and check that the product is enabled and the account not in arrears"
)

// serviceOutcomes maps the JSON Code of an answer other than "200" (the
// action refused or failed to run) onto an outcome. None is billed: the
// pages bill only answers with Code 200.
var serviceOutcomes = map[string]Outcome{
	"400": {provider.ClassBadRequest, notBill, "a parameter is empty", ""},
	"401": {provider.ClassBadRequest, notBill, "a parameter is invalid", ""},
	// help.aliyun.com's error code page gives two more causes of 402: a
	// security policy set in the console, or no permission to call.
	"402": {provider.ClassTransient, notBill, "the authoritative data source failed",
		"if this persists, check the security policy in the cloudauth console"},
	// "异常重复调用次数超限": the same request, that is the same identity,
	// was sent again too often. Quota overruns are the gateway's Throttling
	// codes, so this one is about the identity, not our rate.
	"403": {provider.ClassIdentityLimit, notBill, "too many repeated calls for this identity", ""},
	// Documented for the Mobile3Meta and Mobile2Meta actions only.
	"405": {provider.ClassNoRecord, notBill, "the mobile number belongs to a segment that cannot be queried", ""},
	"410": {provider.ClassCredentials, notBill, "service not enabled", hintEnable},
	"411": {provider.ClassCredentials, notBill, "RAM user lacks permission", hintPolicy},
	"412": {provider.ClassCredentials, notBill, "account in arrears", hintArrears},
	"500": {provider.ClassTransient, notBill, "system error", ""},
}

// gatewayOutcomes maps the Code of the API gateway's own errors (HTTP 4xx
// and 5xx with a JSON body) onto an outcome. None is billed: the action did
// not run.
var gatewayOutcomes = map[string]Outcome{
	"SignatureDoesNotMatch": {provider.ClassCredentials, notBill, "signature does not match",
		"check the AccessKeySecret, and that nothing between us and the endpoint rewrites requests"},
	"IncompleteSignature":           {provider.ClassCredentials, notBill, "signature incomplete", "check the AccessKeyID and AccessKeySecret"},
	"InvalidAccessKeyId.NotFound":   {provider.ClassCredentials, notBill, "AccessKey ID not found", "check the AccessKeyID"},
	"InvalidAccessKeyId.Inactive":   {provider.ClassCredentials, notBill, "AccessKey disabled", "enable the AccessKey in the RAM console or configure another"},
	"InvalidTimeStamp.Expired":      {provider.ClassCredentials, notBill, "timestamp more than 15 minutes off", hintClock},
	"InvalidTimeStamp.Format":       {provider.ClassCredentials, notBill, "timestamp malformed", hintClock},
	"SignatureNonceUsed":            {provider.ClassReplay, notBill, "signature nonce already used", ""},
	"Throttling":                    {provider.ClassThrottled, notBill, "throttled", ""},
	"Throttling.User":               {provider.ClassThrottled, notBill, "account over its rate quota", ""},
	"Throttling.Api":                {provider.ClassThrottled, notBill, "action over its rate quota", ""},
	"NoPermission":                  {provider.ClassCredentials, notBill, "no permission", hintPermission},
	"InvalidBiz":                    {provider.ClassCredentials, notBill, "invalid business scene (Biz)", "create the business scene in the 实人认证 console and save it; the Biz identifier must equal the scene identifier entered there"},
	"Forbidden.RAM":                 {provider.ClassCredentials, notBill, "RAM user forbidden", hintPolicy},
	"Forbidden.RAMUserAccessDenied": {provider.ClassCredentials, notBill, "RAM user access denied", hintPolicy},
	"Forbidden.AccountAccessDenied": {provider.ClassCredentials, notBill, "account access denied", hintEnable + ", and check that the account is not in arrears"},
	// The gateway's spelling of service code 403 ("异常重复调用次数超限").
	"Forbidden.ExceptionRepeatedInvoke": {provider.ClassIdentityLimit, notBill, "too many repeated calls for this identity", ""},
	"ServiceUnavailable":                {provider.ClassTransient, notBill, "service unavailable", ""},
	"InternalError":                     {provider.ClassTransient, notBill, "internal error", ""},
	"MissingParameter":                  {provider.ClassBadRequest, notBill, "a required parameter is missing", ""},
	"InvalidParameter":                  {provider.ClassBadRequest, notBill, "a parameter is invalid", ""},
}

// gatewayPrefixes classifies the gateway codes that gatewayOutcomes does not
// list by their family: "Throttling.Xyz" is throttling whatever Xyz is.
var gatewayPrefixes = []struct {
	prefix  string
	outcome Outcome
}{
	{"InvalidTimeStamp", Outcome{provider.ClassCredentials, notBill, "timestamp refused", hintClock}},
	{"InvalidAccessKeyId", Outcome{provider.ClassCredentials, notBill, "AccessKey ID refused", "check the AccessKeyID"}},
	{"Throttling", Outcome{provider.ClassThrottled, notBill, "throttled", ""}},
	{"Forbidden", Outcome{provider.ClassCredentials, notBill, "forbidden", hintForbidden}},
	{"MissingParameter", Outcome{provider.ClassBadRequest, notBill, "a required parameter is missing", ""}},
	{"InvalidParameter", Outcome{provider.ClassBadRequest, notBill, "a parameter is invalid", ""}},
}

// ClassifyBizCode returns the outcome of a business answer (Code 200) of
// action: code is the BizCode, or "BizCode/SubCode" when the answer carries
// a SubCode. A code the tables do not know is provider.ClassUnknown, never a
// match, and possibly billed; ok is false then.
func ClassifyBizCode(action, code string) (o Outcome, ok bool) {
	if o, ok := bizOutcomes[action][code]; ok {
		return o, true
	}
	return Outcome{Class: provider.ClassUnknown, Billing: provider.PossiblyBilled}, false
}

// ClassifyErrorCode returns the outcome of an answer that is not a business
// answer: a service Code other than "200" (all digits) or a gateway error
// Code. A code the tables do not know is provider.ClassUnknown and not
// billed, as the action did not answer; ok is false then.
func ClassifyErrorCode(code string) (o Outcome, ok bool) {
	if isDigits(code) {
		o, ok = serviceOutcomes[code]
	} else if o, ok = gatewayOutcomes[code]; !ok {
		for _, p := range gatewayPrefixes {
			if strings.HasPrefix(code, p.prefix) {
				o, ok = p.outcome, true
				break
			}
		}
	}
	if !ok {
		return Outcome{Class: provider.ClassUnknown, Billing: provider.NotBilled}, false
	}
	return o, true
}

// classifyHTTPStatus returns the outcome of an HTTP answer whose body is not
// a cloudauth answer.
func classifyHTTPStatus(status int) Outcome {
	switch {
	case status == 200:
		// The request arrived and something answered for the action: it
		// may have run.
		return Outcome{Class: provider.ClassTransient, Billing: provider.PossiblyBilled, Description: "HTTP 200 without a cloudauth answer"}
	case status == 429:
		return Outcome{Class: provider.ClassThrottled, Description: "too many requests"}
	case status >= 500:
		return Outcome{Class: provider.ClassTransient, Description: "server error"}
	case status >= 300 && status < 400:
		// Redirects are not followed: the endpoint is wrong, and a person
		// must fix it rather than a retry hide it.
		return Outcome{Class: provider.ClassCredentials, Description: "redirect (not followed)", Hint: "check the Endpoint: it redirects elsewhere"}
	case status == 401, status == 403, status == 404, status == 405:
		return Outcome{Class: provider.ClassCredentials, Description: "refused without a cloudauth answer", Hint: "check the Endpoint and the AccessKey"}
	}
	return Outcome{Class: provider.ClassUnknown, Description: "unexpected HTTP status"}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
