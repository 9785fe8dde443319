package sandbox

import (
	"maps"
	"strconv"
)

// Stats counts what the sandbox has seen since it started or since the last
// ResetStats. GET /sandbox/stats serves it as JSON.
type Stats struct {
	// Calls counts every GET or POST to /v2/index.php, whatever its fate.
	Calls int64 `json:"calls"`
	// ByAction counts calls by Action, for the four known actions only.
	ByAction map[string]int64 `json:"byAction"`
	// ByAnswer counts calls by what the caller got: the authCode ("00",
	// "01", …) of a business answer, "code:4100" for a gateway error,
	// "http:503" for an injected HTTP error, "drop" for a dropped
	// connection and "timeout" for an answer held by the timeout fault.
	ByAnswer map[string]int64 `json:"byAnswer"`
	// Billed counts calls that reached a business answer, including those
	// whose answer the timeout fault held back: what the provider would
	// charge for.
	Billed int64 `json:"billed"`
	// QuotaRefused counts calls answered 4400 by the quota.
	QuotaRefused int64 `json:"quotaRefused"`
	// OrderNoReused counts billed calls whose orderNo had been billed
	// before (across all SecretIds): each is a second charge for one order.
	OrderNoReused int64 `json:"orderNoReused"`
	// MaxPerSecond is the largest number of calls admitted (past the
	// signature, replay and quota checks) within one wall-clock second:
	// the rate a provider's limiter would see.
	MaxPerSecond int64 `json:"maxPerSecond"`
}

func newStats() Stats {
	return Stats{ByAction: make(map[string]int64), ByAnswer: make(map[string]int64)}
}

func (s Stats) clone() Stats {
	s.ByAction = maps.Clone(s.ByAction)
	s.ByAnswer = maps.Clone(s.ByAnswer)
	return s
}

// answerKey is the Stats.ByAnswer key of a gateway error code.
func codeKey(code int) string { return "code:" + strconv.Itoa(code) }

func httpKey(status int) string { return "http:" + strconv.Itoa(status) }
