package sandbox

import (
	"maps"
	"strconv"
)

// Stats counts what the sandbox has seen since it started or since the last
// ResetStats. GET /sandbox/stats serves it as JSON. The top-level counters
// are totals over every provider; Providers has the detail.
type Stats struct {
	// Calls counts every call to a provider API, whatever its protocol and
	// its fate (administration routes are not calls).
	Calls int64 `json:"calls"`
	// ByAction counts calls by action, for the known actions only. The
	// protocols' action names do not collide.
	ByAction map[string]int64 `json:"byAction"`
	// ByAnswer counts calls by what the caller got, merged over the
	// providers (see ProviderStats.ByAnswer for the keys).
	ByAnswer map[string]int64 `json:"byAnswer"`
	// Billed counts the calls a provider would charge for, by its own
	// billing rules (see ProviderStats.Billed).
	Billed int64 `json:"billed"`
	// QuotaRefused counts calls refused by a quota (v2 4400, v3
	// RequestLimitExceeded, Alibaba Cloud Throttling.User).
	QuotaRefused int64 `json:"quotaRefused"`
	// OutageRefused counts calls answered HTTP 503 because their provider
	// was switched off.
	OutageRefused int64 `json:"outageRefused"`
	// OrderNoReused counts billed Tencent v2 calls whose orderNo had been
	// billed before (across all SecretIds): each is a second charge for one
	// order.
	OrderNoReused int64 `json:"orderNoReused"`
	// BilledByMoreThanOneProvider counts the identities (kind, name, ID
	// number, phone, card) that two or more providers have billed: an
	// identity checked and paid for twice because a job moved from one
	// provider to another.
	BilledByMoreThanOneProvider int64 `json:"billedByMoreThanOneProvider"`
	// MaxPerSecond is the largest number of calls admitted (past the
	// signature, replay and quota checks) within any sliding 1000 ms,
	// all providers together.
	MaxPerSecond int64 `json:"maxPerSecond"`
	// InFlight is a gauge, not a counter: the provider calls received
	// whose answer has not been written yet, all providers together. A
	// caller that dies now may have been billed for any of them without
	// seeing the answer. ResetStats leaves it alone.
	InFlight int64 `json:"inFlight"`
	// Providers holds the counters of each provider, by name (tencent-v2,
	// tencent-v3, aliyun); every provider is present.
	Providers map[string]ProviderStats `json:"providers"`
}

// ProviderStats counts one provider's calls.
type ProviderStats struct {
	// Calls counts every call to the provider, whatever its fate.
	Calls int64 `json:"calls"`
	// ByAction counts calls by action, for the provider's known actions.
	ByAction map[string]int64 `json:"byAction"`
	// ByAnswer counts calls by what the caller got. A business answer is
	// keyed by its own code: the authCode for v2 ("00", "01", …), the
	// Result for v3 ("0", "-1", …), "biz:BizCode" or
	// "biz:BizCode/SubCode" for Alibaba Cloud ("biz:1/101"). Errors:
	// "code:4100" for a v2 gateway code, "error:AuthFailure.SignatureFailure"
	// for a v3 or Alibaba Cloud gateway error, "code:401" for an Alibaba
	// Cloud service Code other than 200. Transport: "http:503" for an
	// injected HTTP error, "drop" for a dropped connection, "timeout" for an
	// answer held by the timeout fault, "outage" for a call refused by an
	// outage.
	ByAnswer map[string]int64 `json:"byAnswer"`
	// Billed counts the calls the provider would charge for: v2, every
	// business answer; v3, the Result codes its billing table marks billed
	// (TencentV3ResultInfo); Alibaba Cloud, BizCode 1 and 2, and 3 except
	// for BankMetaVerify (AliyunBilled). Answers held by the timeout fault
	// count as their answer would; error answers never do.
	Billed int64 `json:"billed"`
	// QuotaRefused counts calls refused by a quota.
	QuotaRefused int64 `json:"quotaRefused"`
	// OutageRefused counts calls refused by an outage.
	OutageRefused int64 `json:"outageRefused"`
	// MaxPerSecond is the largest number of calls the provider admitted
	// within any sliding 1000 ms.
	MaxPerSecond int64 `json:"maxPerSecond"`
	// IdentityReused counts billed calls for an identity (kind, name, ID
	// number, phone, card) this provider had billed before.
	IdentityReused int64 `json:"identityReused"`
}

func newStats() Stats {
	st := Stats{
		ByAction:  make(map[string]int64),
		ByAnswer:  make(map[string]int64),
		Providers: make(map[string]ProviderStats, numProviders),
	}
	for _, name := range providerNames {
		st.Providers[name] = newProviderStats()
	}
	return st
}

func newProviderStats() ProviderStats {
	return ProviderStats{ByAction: make(map[string]int64), ByAnswer: make(map[string]int64)}
}

func (s ProviderStats) clone() ProviderStats {
	s.ByAction = maps.Clone(s.ByAction)
	s.ByAnswer = maps.Clone(s.ByAnswer)
	return s
}

// Stats.ByAnswer keys that are not codes.
const (
	answerTimeout = "timeout"
	answerDrop    = "drop"
	answerOutage  = "outage"
)

// codeKey is the Stats.ByAnswer key of a v2 gateway error code.
func codeKey(code int) string { return "code:" + strconv.Itoa(code) }

func httpKey(status int) string { return "http:" + strconv.Itoa(status) }

// errorKey is the Stats.ByAnswer key of a v3 or Alibaba Cloud gateway error.
func errorKey(code string) string { return "error:" + code }

// apiCodeKey is the Stats.ByAnswer key of an injected v3 or Alibaba Cloud
// code: Alibaba Cloud's numeric codes are service codes.
func apiCodeKey(p provider, code string) string {
	if p == provAliyun && allDigits(code) {
		return "code:" + code
	}
	return errorKey(code)
}
