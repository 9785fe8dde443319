package tencentv3

import (
	"net/http"
	"strings"

	"github.com/realname-io/realname/internal/provider"
)

// ResultRow is what one Response.Result code of one action means.
type ResultRow struct {
	// Class is what the worker does with the answer.
	Class provider.Class
	// Billing is whether Tencent bills the answer (收费结果码).
	Billing provider.Billing
	// Description restates the SDK's description of the code, for answers
	// that come without one.
	Description string
}

// The Result tables, one per action. Source: the Result field comments of
// tencentcloud-sdk-go tencentcloud/faceid/v20180301/models.go and Tencent's
// 按结果计费 page (spec/tencent-v3-faceid.md). The bank-card codes are
// numbered differently in the 3- and 4-element actions ("-5" is cardholder
// information wrong in one, an invalid phone in the other), so no two
// actions share a table.
//
// The classes follow one rule: billed codes are definitive (Tencent looked
// at the data); among the free ones, a format rejection is bad_request (the
// card number's own format is invalid_card), "no record" or "not supported
// for this number/document" is no_record (another means of verification is
// needed, a retry cannot help), the per-identity daily cap is
// identity_limit, and "busy / upgrading / service error" is transient.
var (
	idCardResults = map[string]ResultRow{
		"0":  {provider.ClassMatch, provider.Billed, "name and ID number match"},
		"-1": {provider.ClassMismatch, provider.Billed, "name and ID number do not match"},
		"-2": {provider.ClassBadRequest, provider.NotBilled, "invalid ID number (length, check digit)"},
		"-3": {provider.ClassBadRequest, provider.NotBilled, "invalid name (length, format)"},
		"-4": {provider.ClassTransient, provider.NotBilled, "ID database service error"},
		"-5": {provider.ClassNoRecord, provider.NotBilled, "no record of this ID number"},
		"-6": {provider.ClassTransient, provider.NotBilled, "authoritative database upgrading, try again later"},
		"-7": {provider.ClassIdentityLimit, provider.NotBilled, "checks of this identity over today's limit"},
	}

	phoneResults = map[string]ResultRow{
		"0":   {provider.ClassMatch, provider.Billed, "name, ID number and phone are consistent"},
		"-4":  {provider.ClassMismatch, provider.Billed, "name, ID number and phone are not consistent"},
		"-6":  {provider.ClassBadRequest, provider.NotBilled, "invalid phone number"},
		"-7":  {provider.ClassBadRequest, provider.NotBilled, "invalid ID number"},
		"-8":  {provider.ClassBadRequest, provider.NotBilled, "name check failed"},
		"-9":  {provider.ClassNoRecord, provider.NotBilled, "no record"},
		"-11": {provider.ClassTransient, provider.NotBilled, "verification centre busy"},
		"-12": {provider.ClassIdentityLimit, provider.NotBilled, "checks over today's limit, try again tomorrow"},
		// The carrier's number range cannot be verified at all (e.g. some
		// virtual operators): a definitive "cannot verify", not our bug.
		"-13": {provider.ClassNoRecord, provider.NotBilled, "this number range is not supported"},
	}

	bankCard3Results = map[string]ResultRow{
		"0":   {provider.ClassMatch, provider.Billed, "verified"},
		"-1":  {provider.ClassMismatch, provider.Billed, "verification failed"},
		"-2":  {provider.ClassBadRequest, provider.NotBilled, "name check failed"},
		"-3":  {provider.ClassBadRequest, provider.NotBilled, "invalid ID number"},
		"-4":  {provider.ClassInvalidCard, provider.NotBilled, "invalid bank card number format"},
		"-5":  {provider.ClassMismatch, provider.Billed, "cardholder information wrong"},
		"-6":  {provider.ClassCardUnusable, provider.Billed, "card-not-present payment not enabled"},
		"-7":  {provider.ClassCardUnusable, provider.Billed, "card confiscated"},
		"-8":  {provider.ClassInvalidCard, provider.Billed, "invalid card number"},
		"-9":  {provider.ClassInvalidCard, provider.Billed, "no issuing bank for this card"},
		"-10": {provider.ClassCardUnusable, provider.Billed, "card not initialised or dormant"},
		"-11": {provider.ClassCardUnusable, provider.Billed, "fraudulent or swallowed card"},
		"-12": {provider.ClassCardUnusable, provider.Billed, "card reported lost"},
		"-13": {provider.ClassCardUnusable, provider.Billed, "card expired"},
		"-14": {provider.ClassCardUnusable, provider.Billed, "restricted card"},
		"-15": {provider.ClassCardUnusable, provider.Billed, "too many wrong PIN attempts"},
		"-16": {provider.ClassCardUnusable, provider.Billed, "issuing bank does not support this transaction"},
		"-17": {provider.ClassTransient, provider.NotBilled, "verification centre busy"},
		"-18": {provider.ClassIdentityLimit, provider.NotBilled, "checks over today's limit, try again tomorrow"},
		// Only second-generation resident ID cards are supported: the
		// identity needs another means of verification.
		"-19": {provider.ClassNoRecord, provider.NotBilled, "this ID type is not supported, only second-generation resident ID cards"},
		// "Card status abnormal or card number wrong": the card was found
		// in a state the bank would not verify, which the caller handles as
		// an unusable card (ask for another one).
		"-20": {provider.ClassCardUnusable, provider.Billed, "card status abnormal or card number wrong"},
	}

	bankCard4Results = map[string]ResultRow{
		"0":   {provider.ClassMatch, provider.Billed, "verified"},
		"-1":  {provider.ClassMismatch, provider.Billed, "verification failed"},
		"-2":  {provider.ClassBadRequest, provider.NotBilled, "name check failed"},
		"-3":  {provider.ClassBadRequest, provider.NotBilled, "invalid ID number"},
		"-4":  {provider.ClassInvalidCard, provider.NotBilled, "invalid bank card number format"},
		"-5":  {provider.ClassBadRequest, provider.NotBilled, "invalid phone number"},
		"-6":  {provider.ClassMismatch, provider.Billed, "cardholder information wrong"},
		"-7":  {provider.ClassCardUnusable, provider.Billed, "card-not-present payment not enabled"},
		"-8":  {provider.ClassCardUnusable, provider.Billed, "card confiscated"},
		"-9":  {provider.ClassInvalidCard, provider.Billed, "invalid card number"},
		"-10": {provider.ClassInvalidCard, provider.Billed, "no issuing bank for this card"},
		"-11": {provider.ClassCardUnusable, provider.Billed, "card not initialised or dormant"},
		"-12": {provider.ClassCardUnusable, provider.Billed, "fraudulent or swallowed card"},
		"-13": {provider.ClassCardUnusable, provider.Billed, "card reported lost"},
		"-14": {provider.ClassCardUnusable, provider.Billed, "card expired"},
		"-15": {provider.ClassCardUnusable, provider.Billed, "restricted card"},
		"-16": {provider.ClassCardUnusable, provider.Billed, "too many wrong PIN attempts"},
		"-17": {provider.ClassCardUnusable, provider.Billed, "issuing bank does not support this transaction"},
		"-18": {provider.ClassTransient, provider.NotBilled, "verification centre busy"},
		"-19": {provider.ClassIdentityLimit, provider.NotBilled, "checks over today's limit, try again tomorrow"},
		"-20": {provider.ClassNoRecord, provider.NotBilled, "this ID type is not supported, only second-generation resident ID cards"},
		"-21": {provider.ClassCardUnusable, provider.Billed, "card status abnormal or card number wrong"},
	}
)

// resultTables maps each action onto its own Result table.
var resultTables = map[string]map[string]ResultRow{
	ActionIDCard:    idCardResults,
	ActionPhone:     phoneResults,
	ActionBankCard3: bankCard3Results,
	ActionBankCard4: bankCard4Results,
}

// ClassifyResult returns what Response.Result code result of action means.
// A code (or action) the tables do not know is provider.ClassUnknown and
// possibly billed: never a match, and nothing proves it free.
func ClassifyResult(action, result string) ResultRow {
	if row, ok := resultTables[action][result]; ok {
		return row
	}
	return ResultRow{Class: provider.ClassUnknown, Billing: provider.PossiblyBilled}
}

// ErrorRow is what one Response.Error.Code means. Error answers are never
// billed: the action did not run.
type ErrorRow struct {
	// Class is what the worker does about it.
	Class provider.Class
	// Hint tells the operator what to check; empty when nobody needs to
	// act.
	Hint string
}

// errorCodes maps Response.Error.Code onto a class. Source: the common
// error codes of API 3.0 and tencentcloud-sdk-go
// tencentcloud/faceid/v20180301/errors.go, restated in
// spec/tencent-v3-faceid.md.
var errorCodes = map[string]ErrorRow{
	// Common codes.
	"AuthFailure.SignatureFailure": {provider.ClassCredentials,
		"check that the SecretKey belongs to the SecretId and that no proxy rewrites the body or the signed headers"},
	"AuthFailure.SignatureExpire": {provider.ClassCredentials,
		"check this machine's clock (NTP): the timestamp must be within 5 minutes of Tencent's"},
	"AuthFailure.SecretIdNotFound": {provider.ClassCredentials,
		"check that the SecretId exists and is enabled in CAM (API keys)"},
	"AuthFailure.InvalidSecretId": {provider.ClassCredentials,
		"the SecretId is not a Tencent Cloud API key: copy it from CAM > API keys"},
	"AuthFailure.TokenFailure": {provider.ClassCredentials,
		"check the temporary credentials' token and its expiry"},
	"AuthFailure.InvalidAuthorization": {provider.ClassCredentials,
		"the Authorization header is malformed: check the SecretId for stray characters and any proxy rewriting headers"},
	"AuthFailure.UnauthorizedOperation": {provider.ClassCredentials,
		"grant the CAM user or role permission for faceid (QcloudFaceIDFullAccess or the action)"},
	"AuthFailure.MFAFailure": {provider.ClassCredentials,
		"the key's account requires MFA for this operation: use a key without that CAM condition"},
	"RequestLimitExceeded": {provider.ClassThrottled, ""},
	"InternalError":        {provider.ClassTransient, ""},
	"LimitExceeded": {provider.ClassCredentials,
		"the faceid quota or resource package is used up: buy a package or raise the quota in the console"},
	"NoSuchVersion": {provider.ClassCredentials,
		"check the endpoint: it does not serve faceid version " + Version},
	"InvalidParameter":      {provider.ClassBadRequest, ""},
	"InvalidParameterValue": {provider.ClassBadRequest, ""},
	"MissingParameter":      {provider.ClassBadRequest, ""},
	"UnknownParameter":      {provider.ClassBadRequest, ""},
	"InvalidAction": {provider.ClassCredentials,
		"check the endpoint: it does not serve the faceid actions"},
	"ActionOffline": {provider.ClassCredentials,
		"Tencent has taken this action offline: switch provider or API"},
	"UnsupportedProtocol": {provider.ClassCredentials,
		"use an https:// endpoint"},
	"UnsupportedRegion": {provider.ClassCredentials,
		"leave Region empty or set one where faceid is offered"},

	// faceid codes of the four actions.
	"FailedOperation.UnKnown":            {provider.ClassTransient, ""},
	"FailedOperation.DecryptSystemError": {provider.ClassTransient, ""},
	"FailedOperation.StsUnAuthErrError": {provider.ClassCredentials,
		"STS is not authorised: check the role behind the temporary credentials"},
	"InvalidParameter.UnsupportEncryptField": {provider.ClassBadRequest, ""},
	"UnauthorizedOperation.Arrears": {provider.ClassCredentials,
		"the Tencent Cloud account is in arrears: top it up"},
	"UnauthorizedOperation.ChargeStatusException": {provider.ClassCredentials,
		"the faceid billing status is abnormal: check it in the console (人脸核身 > billing)"},
	"UnauthorizedOperation.NonAuthorize": {provider.ClassCredentials,
		"complete the Tencent Cloud account's real-name verification (账号实名认证)"},
	"UnauthorizedOperation.Nonactivated": {provider.ClassCredentials,
		"activate faceid (人脸核身) in the Tencent Cloud console"},
	"UnauthorizedOperation.ActivateError": {provider.ClassCredentials,
		"activating faceid failed: retry the activation in the console"},
	"UnauthorizedOperation.Activating": {provider.ClassCredentials,
		"faceid is still being activated: resume the queues once the console shows it active"},
}

// errorFamilies classifies the codes of a family the table does not list
// (a new AuthFailure.* sub-code, say) by the part before the first ".". The
// families are those whose every member calls for the same action.
var errorFamilies = map[string]ErrorRow{
	"AuthFailure": {provider.ClassCredentials,
		"check the SecretId, the SecretKey and the CAM permissions for faceid"},
	"UnauthorizedOperation": {provider.ClassCredentials,
		"check that faceid is activated and that the account is verified and not in arrears"},
	"RequestLimitExceeded": {provider.ClassThrottled, ""},
	"InternalError":        {provider.ClassTransient, ""},
}

// ClassifyError returns what Response.Error.Code code means. A code neither
// the table nor its family knows is provider.ClassUnknown.
func ClassifyError(code string) ErrorRow {
	if row, ok := errorCodes[code]; ok {
		return row
	}
	if family, _, ok := strings.Cut(code, "."); ok {
		if row, ok := errorFamilies[family]; ok {
			return row
		}
	}
	return ErrorRow{Class: provider.ClassUnknown}
}

// classifyHTTPStatus returns the class and hint of a non-200 HTTP answer
// whose body is not a v3 answer. None is billed: the action did not run.
func classifyHTTPStatus(status int) ErrorRow {
	switch {
	case status == http.StatusTooManyRequests:
		return ErrorRow{Class: provider.ClassThrottled}
	case status >= 500:
		return ErrorRow{Class: provider.ClassTransient}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		// Tencent answers bad credentials with a 200 and an error body; a
		// bare 401/403 comes from something in between.
		return ErrorRow{Class: provider.ClassCredentials, Hint: "check the Endpoint and any proxy in front of it"}
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return ErrorRow{Class: provider.ClassCredentials, Hint: "check the Endpoint URL: it does not serve API 3.0"}
	case status >= 300 && status < 400:
		// Redirects are not followed: a redirected request would be sent
		// again, possibly billed twice, to a host we did not sign for.
		return ErrorRow{Class: provider.ClassCredentials, Hint: "the Endpoint redirects: set it to the final URL"}
	}
	return ErrorRow{Class: provider.ClassUnknown}
}
