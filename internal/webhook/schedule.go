package webhook

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// jitter is the spread added to a Schedule's delays, as a fraction of the
// delay, so that events failed together by one outage do not all come back
// at the same instant. It only ever adds time, so the schedule's nominal
// total is the least a receiver is given to come back.
const jitter = 0.2

// Schedule is the list of delays before each retry of a delivery: s[0]
// before retry 1, s[1] before retry 2, and so on. The first attempt is
// immediate and not in the list.
type Schedule []time.Duration

// DefaultSchedule retries 7 times over about 27.6 hours, so a receiver that
// is down for a day still gets every event.
var DefaultSchedule = Schedule{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
}

// MaxRetry is how many retries the schedule allows after the first attempt.
func (s Schedule) MaxRetry() int { return len(s) }

// Delay returns how long to wait before the next retry, given how many
// retries have been made already (0 before the first, the same count
// asynq's RetryDelayFunc receives) and the error of the attempt that just
// failed. The base delay is s[retried], or the last entry once retried runs
// past the end, lengthened by up to 20% using rnd (a source of [0,1); math/rand/v2
// when nil). A receiver's Retry-After, carried by a *DeliveryError, is a
// floor: the result is never earlier than the receiver asked. An empty
// schedule gives 0 plus that floor.
func (s Schedule) Delay(retried int, err error, rnd func() float64) time.Duration {
	var d time.Duration
	if len(s) > 0 {
		base := s[min(max(retried, 0), len(s)-1)]
		if rnd == nil {
			rnd = rand.Float64
		}
		r := min(max(rnd(), 0), 1) // a bad source cannot break the bounds
		d = time.Duration(float64(base) * (1 + jitter*r))
	}
	var de *DeliveryError
	if errors.As(err, &de) && de.RetryAfter > d {
		d = de.RetryAfter
	}
	return d
}

// ParseSchedule parses comma-separated Go durations, such as "0s,5s,5m",
// for configuration and tests. At least one entry is required and none may
// be negative.
func ParseSchedule(v string) (Schedule, error) {
	if strings.TrimSpace(v) == "" {
		return nil, errors.New("webhook: parse schedule: empty")
	}
	parts := strings.Split(v, ",")
	s := make(Schedule, 0, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("webhook: parse schedule: entry %d: %w", i+1, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("webhook: parse schedule: entry %d is negative", i+1)
		}
		s = append(s, d)
	}
	return s, nil
}
