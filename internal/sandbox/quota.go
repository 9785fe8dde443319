package sandbox

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quotas configures the per-action rate limits of Tencent v3 and Alibaba
// Cloud, each a strict sliding window: a call is admitted when fewer than
// the limit were admitted for the same provider and action in the 1000 ms
// before it, whoever the caller. Refused calls are answered as each provider
// answers throttling (v3 Error RequestLimitExceeded with HTTP 200, Alibaba
// Cloud HTTP 400 Throttling.User) and counted in QuotaRefused. Tencent v2
// has no documented per-action limit; its quota is Faults.QuotaRPS.
type Quotas struct {
	// Enabled turns the quotas on: every action gets its documented limit
	// (DocumentedQuotas) unless Limits says otherwise. Defaults to false:
	// no per-action quota at all, whatever Limits holds.
	Enabled bool
	// Limits overrides documented limits, by provider name and then action
	// name: a positive value is the calls per second admitted, 0 removes
	// the quota of that action. New fails on an unknown provider or action
	// and on a negative value. Defaults to nil: the documented limits.
	Limits map[string]map[string]int
}

// documentedQuotas are the providers' published limits, in calls per second
// per action per account.
var documentedQuotas = map[provider]map[string]int{
	provTencentV3: {
		ActionIDCardVerification:     100,
		ActionPhoneVerification:      20,
		ActionBankCardVerification:   20,
		ActionBankCard4EVerification: 20,
	},
	provAliyun: {
		ActionID2MetaVerify:           50,
		ActionMobile3MetaSimpleVerify: 50,
		ActionMobile3MetaDetailVerify: 50,
		ActionBankMetaVerify:          50,
	},
}

// DocumentedQuotas returns the providers' documented per-action limits, in
// calls per second, by provider name and then action: Tencent v3
// IdCardVerification 100 and the other three actions 20; Alibaba Cloud 50 for
// every action. It returns a new map on each call.
func DocumentedQuotas() map[string]map[string]int {
	m := make(map[string]map[string]int, len(documentedQuotas))
	for p, limits := range documentedQuotas {
		m[p.String()] = maps.Clone(limits)
	}
	return m
}

// SetLimit parses one limit written "provider/action=N" (for example
// "tencent-v3/IdCardVerification=5"), checks the names and stores it in
// Limits. It does not change Enabled. It serves a repeatable command-line
// flag.
func (q *Quotas) SetLimit(spec string) error {
	name, n, ok := strings.Cut(spec, "=")
	pname, action, ok2 := strings.Cut(name, "/")
	if !ok || !ok2 {
		return fmt.Errorf("quota %q: want provider/action=N, e.g. tencent-v3/IdCardVerification=5", truncate(spec, 80))
	}
	limit, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil {
		return fmt.Errorf("quota %q: N must be an integer", truncate(spec, 80))
	}
	pname, action = strings.TrimSpace(pname), strings.TrimSpace(action)
	if err := checkLimit(pname, action, limit); err != nil {
		return err
	}
	if q.Limits == nil {
		q.Limits = make(map[string]map[string]int)
	}
	if q.Limits[pname] == nil {
		q.Limits[pname] = make(map[string]int)
	}
	q.Limits[pname][action] = limit
	return nil
}

func checkLimit(pname, action string, limit int) error {
	p, ok := providerByName(pname)
	if !ok {
		return fmt.Errorf("quotas: unknown provider %q", truncate(pname, 40))
	}
	if p == provTencentV2 {
		return errors.New("quotas: tencent-v2 has no per-action quotas; use Faults.QuotaRPS")
	}
	if _, ok := documentedQuotas[p][action]; !ok {
		return fmt.Errorf("quotas: %s has no action %q (want one of %v)", pname, truncate(action, 40), slices.Sorted(maps.Keys(documentedQuotas[p])))
	}
	if limit < 0 {
		return fmt.Errorf("quotas: %s/%s must not be negative", pname, action)
	}
	return nil
}

// resolve validates q and returns the limit of every limited action, by
// provider; nothing when q is not Enabled.
func (q Quotas) resolve() ([numProviders]map[string]int, error) {
	var out [numProviders]map[string]int
	// Sorted, so that the error for several bad entries is stable.
	for _, pname := range slices.Sorted(maps.Keys(q.Limits)) {
		for _, action := range slices.Sorted(maps.Keys(q.Limits[pname])) {
			if err := checkLimit(pname, action, q.Limits[pname][action]); err != nil {
				return out, err
			}
		}
	}
	if !q.Enabled {
		return out, nil
	}
	for p, limits := range documentedQuotas {
		out[p] = maps.Clone(limits)
		for action, n := range q.Limits[p.String()] {
			out[p][action] = n
		}
		maps.DeleteFunc(out[p], func(_ string, n int) bool { return n == 0 })
	}
	return out, nil
}

// slidingWindow is a strict sliding one-second rate limit. It keeps the
// times of the last limit admissions in a ring: a call is admitted when the
// oldest of them is at least a second old (or the ring is not yet full), so
// no 1000 ms span ever holds more than limit admissions. Memory is limit
// timestamps. Guarded by Server.mu.
type slidingWindow struct {
	times []time.Time
	next  int // the oldest admission once the ring is full
	n     int // admissions stored, up to len(times)
}

func newSlidingWindow(limit int) *slidingWindow {
	return &slidingWindow{times: make([]time.Time, limit)}
}

func (w *slidingWindow) limit() int { return len(w.times) }

// admit reports whether a call at now is within the limit, and records it
// if so.
func (w *slidingWindow) admit(now time.Time) bool {
	if w.n == len(w.times) && now.Sub(w.times[w.next]) < time.Second {
		return false
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % len(w.times)
	w.n = min(w.n+1, len(w.times))
	return true
}

// underQuotaRPS applies the provider's Faults.QuotaRPS, counting the refusal;
// s.mu must be held.
func (s *Server) underQuotaRPS(p provider, now time.Time) bool {
	run := &s.prov[p]
	q := s.faults[p].QuotaRPS
	if q <= 0 {
		return true
	}
	if run.quota == nil {
		run.quota = newSlidingWindow(q)
	}
	if !run.quota.admit(now) {
		run.stats.QuotaRefused++
		return false
	}
	return true
}

// underActionQuota applies the per-action sliding window, counting the
// refusal; s.mu must be held.
func (s *Server) underActionQuota(p provider, action string, now time.Time) (limit int, ok bool) {
	win := s.quotas[p][action]
	if win == nil {
		return 0, true
	}
	if !win.admit(now) {
		s.prov[p].stats.QuotaRefused++
		return win.limit(), false
	}
	return 0, true
}
