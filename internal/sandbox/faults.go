package sandbox

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Faults makes one provider of the sandbox misbehave the ways a real provider
// does. The zero value injects nothing. Every decision is a pure function of
// Seed, the request's key and how many times that key has been seen, so a
// run is reproducible whatever the goroutine scheduling, as long as the
// attempts for one key are sequential (a job and its retries are). The key is
// the orderNo for Tencent v2; Tencent v3 and Alibaba Cloud carry no order
// number, so theirs is the identity checked (kind, name, ID number, phone,
// card).
//
// Faults apply only to requests that pass every check (signature, replay,
// quota, parameters): a bad request is refused, never faulted. The rates are
// probabilities in [0, 1] of mutually exclusive outcomes, so their sum must
// not exceed 1.
type Faults struct {
	// Seed seeds every fault decision.
	Seed int64
	// Latency delays each answer, faulted or not. Defaults to none.
	Latency Latency
	// HTTP5xxRate is the share of requests answered HTTP 500, 502 or 503
	// with an HTML body, as a load balancer would. Not billed.
	HTTP5xxRate float64
	// DropRate is the share of requests whose connection is closed without
	// an answer. Not billed.
	DropRate float64
	// TimeoutRate is the share of requests that are processed and billed,
	// but whose answer is held for TimeoutHold or until the client gives
	// up: the "sent, outcome unknown, possibly billed" case.
	TimeoutRate float64
	// TimeoutHold is how long TimeoutRate holds an answer. Defaults to 30s.
	TimeoutHold time.Duration
	// CodeRate is the share of requests answered with an error code from
	// Codes (Tencent v2) or APICodes (Tencent v3, Alibaba Cloud) instead of
	// the business answer. Not billed.
	CodeRate float64
	// Codes are the Tencent v2 gateway codes CodeRate picks from,
	// uniformly. Defaults to 5100, 6000 and 6200, the transient ones. Only
	// for Config.Faults.
	Codes []int
	// APICodes are the error codes CodeRate picks from, uniformly, for
	// Config.TencentV3Faults and Config.AliyunFaults. Tencent v3: values
	// of Response.Error.Code (HTTP 200), defaulting to InternalError and
	// FailedOperation.UnKnown. Alibaba Cloud: a three-digit service Code
	// answered with HTTP 200 (e.g. 500 system error, 402 data source
	// error), or a gateway code answered with its HTTP status
	// (InternalError 500, ServiceUnavailable 503, others 500); defaults to
	// InternalError, 500 and 402.
	APICodes []string
	// QuotaRPS is how many requests per second the provider admits across
	// all callers and actions, in a strict sliding one-second window of
	// Config.Now (no 1000 ms span admits more);
	// the excess is refused as the provider refuses throttled calls (v2
	// 4400, v3 RequestLimitExceeded, Alibaba Cloud Throttling.User). Zero
	// means no quota. The per-action quotas are Config.Quotas.
	QuotaRPS int

	// provider is the provider these faults apply to, set by New.
	provider provider
}

// defaultFaultCodes are the gateway codes of CodeRate when Codes is empty.
var defaultFaultCodes = []int{5100, 6000, 6200}

// defaultAPICodes are the codes of CodeRate when APICodes is empty, by
// provider: the transient ones.
var defaultAPICodes = [numProviders][]string{
	provTencentV3: {"InternalError", "FailedOperation.UnKnown"},
	provAliyun:    {"InternalError", "500", "402"},
}

func (f *Faults) faultCodes() []int {
	if len(f.Codes) == 0 {
		return defaultFaultCodes
	}
	return f.Codes
}

func (f *Faults) apiCodes(p provider) []string {
	if len(f.APICodes) == 0 {
		return defaultAPICodes[p]
	}
	return f.APICodes
}

func (f *Faults) validate(p provider) error {
	f.provider = p
	rates := []struct {
		name string
		v    float64
	}{
		{"HTTP5xxRate", f.HTTP5xxRate},
		{"DropRate", f.DropRate},
		{"TimeoutRate", f.TimeoutRate},
		{"CodeRate", f.CodeRate},
	}
	sum := 0.0
	for _, r := range rates {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("faults: %s must be between 0 and 1", r.name)
		}
		sum += r.v
	}
	if sum > 1+1e-9 {
		return errors.New("faults: HTTP5xxRate + DropRate + TimeoutRate + CodeRate must not exceed 1")
	}
	if f.TimeoutHold < 0 {
		return errors.New("faults: TimeoutHold must not be negative")
	}
	for _, c := range f.Codes {
		if c == 0 {
			return errors.New("faults: Codes must not contain 0, which means success")
		}
	}
	if p == provTencentV2 && len(f.APICodes) > 0 {
		return errors.New("faults: APICodes applies to tencent-v3 and aliyun; tencent-v2 uses Codes")
	}
	if p != provTencentV2 && len(f.Codes) > 0 {
		return errors.New("faults: Codes applies to tencent-v2; use APICodes")
	}
	for _, c := range f.APICodes {
		if err := checkAPICode(p, c); err != nil {
			return fmt.Errorf("faults: APICodes: %w", err)
		}
	}
	if f.QuotaRPS < 0 {
		return errors.New("faults: QuotaRPS must not be negative")
	}
	if err := f.Latency.validate(); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	return nil
}

// faultKind is what a request suffers.
type faultKind uint8

const (
	faultNone faultKind = iota
	faultDrop
	fault5xx
	faultCode
	faultTimeout
)

func (k faultKind) String() string {
	return [...]string{"none", "drop", "http5xx", "code", "timeout"}[k]
}

// checkAPICode validates an injected code of Tencent v3 or Alibaba Cloud.
func checkAPICode(p provider, c string) error {
	if c == "" || strings.ContainsFunc(c, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return errors.New("a code must be printable ASCII without spaces")
	}
	if p == provAliyun && allDigits(c) && (len(c) != 3 || c == "200") {
		return errors.New("a numeric Alibaba Cloud code must be a three-digit service code other than 200")
	}
	return nil
}

// decision is the fate of one request.
type decision struct {
	kind    faultKind
	status  int           // fault5xx
	code    int           // faultCode, Tencent v2
	apiCode string        // faultCode, Tencent v3 and Alibaba Cloud
	key     string        // faultCode: the Stats.ByAnswer key
	delay   time.Duration // every kind
}

var http5xxStatuses = [...]int{500, 502, 503}

// decide returns the fate of the attempt-th request (counting from 0) with
// key (a v2 orderNo, or an identity key). The draws come in a fixed order
// from a PCG seeded by SHA-256(Seed, attempt, key), so nothing else
// influences them.
func (f *Faults) decide(key string, attempt uint64) decision {
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], uint64(f.Seed))
	binary.LittleEndian.PutUint64(buf[8:], attempt)
	h := sha256.New()
	h.Write(buf[:])
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))

	u := rng.Float64()
	pick := rng.Uint64()
	d := decision{delay: f.Latency.sample(rng)}
	switch {
	case u < f.DropRate:
		d.kind = faultDrop
	case u < f.DropRate+f.HTTP5xxRate:
		d.kind = fault5xx
		d.status = http5xxStatuses[pick%uint64(len(http5xxStatuses))]
	case u < f.DropRate+f.HTTP5xxRate+f.CodeRate:
		d.kind = faultCode
		if f.provider == provTencentV2 {
			codes := f.faultCodes()
			d.code = codes[pick%uint64(len(codes))]
			d.key = codeKey(d.code)
		} else {
			codes := f.apiCodes(f.provider)
			d.apiCode = codes[pick%uint64(len(codes))]
			d.key = apiCodeKey(f.provider, d.apiCode)
		}
	case u < f.DropRate+f.HTTP5xxRate+f.CodeRate+f.TimeoutRate:
		d.kind = faultTimeout
	}
	return d
}

// LatencyKind is the shape of the delay distribution.
type LatencyKind string

// The latency distributions.
const (
	// LatencyNone adds no delay.
	LatencyNone LatencyKind = ""
	// LatencyFixed delays every answer by Min.
	LatencyFixed LatencyKind = "fixed"
	// LatencyUniform delays uniformly between Min and Max.
	LatencyUniform LatencyKind = "uniform"
	// LatencyLongTail delays by Min plus a log-normal variate whose median
	// is a twentieth of Max−Min and whose 99th percentile is Max, capped at
	// 3×Max: most answers are quick, a few are very slow, as with a
	// provider whose upstream banks sometimes stall.
	LatencyLongTail LatencyKind = "longtail"
)

// Latency is a delay distribution. Its text form, read by ParseLatency and
// written by String, is "fixed:20ms", "uniform:5ms-50ms", "longtail:10ms-800ms"
// or "none". *Latency implements pflag.Value, so a cobra flag can set it
// directly.
type Latency struct {
	Kind LatencyKind
	Min  time.Duration
	Max  time.Duration
}

// ParseLatency reads the text form of a Latency. "" and "none" mean no delay.
func ParseLatency(s string) (Latency, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return Latency{}, nil
	}
	kind, spec, ok := strings.Cut(s, ":")
	if !ok {
		return Latency{}, fmt.Errorf("latency %q: want kind:duration or kind:min-max, e.g. fixed:20ms, uniform:5ms-50ms, longtail:10ms-800ms", s)
	}
	l := Latency{Kind: LatencyKind(kind)}
	var err error
	switch l.Kind {
	case LatencyFixed:
		if l.Min, err = time.ParseDuration(spec); err != nil {
			return Latency{}, fmt.Errorf("latency %q: %w", s, err)
		}
		l.Max = l.Min
	case LatencyUniform, LatencyLongTail:
		lo, hi, ok := strings.Cut(spec, "-")
		if !ok {
			return Latency{}, fmt.Errorf("latency %q: want %s:min-max", s, kind)
		}
		if l.Min, err = time.ParseDuration(lo); err != nil {
			return Latency{}, fmt.Errorf("latency %q: min: %w", s, err)
		}
		if l.Max, err = time.ParseDuration(hi); err != nil {
			return Latency{}, fmt.Errorf("latency %q: max: %w", s, err)
		}
	default:
		return Latency{}, fmt.Errorf("latency %q: unknown kind %q, want fixed, uniform or longtail", s, kind)
	}
	if err := l.validate(); err != nil {
		return Latency{}, fmt.Errorf("latency %q: %w", s, err)
	}
	return l, nil
}

// String returns the text form that ParseLatency reads.
func (l Latency) String() string {
	switch l.Kind {
	case LatencyNone:
		return "none"
	case LatencyFixed:
		return "fixed:" + l.Min.String()
	}
	return string(l.Kind) + ":" + l.Min.String() + "-" + l.Max.String()
}

// Set implements pflag.Value.
func (l *Latency) Set(s string) error {
	v, err := ParseLatency(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Type implements pflag.Value.
func (l *Latency) Type() string { return "latency" }

func (l Latency) validate() error {
	switch l.Kind {
	case LatencyNone:
		return nil
	case LatencyFixed, LatencyUniform, LatencyLongTail:
	default:
		return fmt.Errorf("latency: unknown kind %q", l.Kind)
	}
	if l.Min < 0 || l.Max < 0 || l.Min > maxLatency || l.Max > maxLatency {
		return errors.New("latency: durations must be between 0 and 1h")
	}
	if l.Kind != LatencyFixed && l.Min > l.Max {
		return errors.New("latency: min must not exceed max")
	}
	return nil
}

// maxLatency bounds a Latency, far beyond any useful delay.
const maxLatency = time.Hour

// z99 is the 99th percentile of the standard normal distribution.
const z99 = 2.326

// longTailMedianRatio is (Max−Min) over the median of the long-tail variate.
const longTailMedianRatio = 20

// sample draws one delay.
func (l Latency) sample(rng *rand.Rand) time.Duration {
	switch l.Kind {
	case LatencyFixed:
		return l.Min
	case LatencyUniform:
		if l.Max == l.Min {
			return l.Min
		}
		return l.Min + time.Duration(rng.Int64N(int64(l.Max-l.Min)+1))
	case LatencyLongTail:
		span := float64(l.Max - l.Min)
		if span <= 0 {
			return l.Min
		}
		// ln X ~ N(mu, sigma²) with median(X) = span/20 and
		// p99(X) = span.
		mu := math.Log(span / longTailMedianRatio)
		sigma := math.Log(longTailMedianRatio) / z99
		x := math.Exp(mu + sigma*rng.NormFloat64())
		if x >= float64(3*l.Max-l.Min) {
			return 3 * l.Max
		}
		return l.Min + time.Duration(x)
	}
	return 0
}
