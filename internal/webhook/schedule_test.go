package webhook

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// fixed returns a rnd that always answers r.
func fixed(r float64) func() float64 { return func() float64 { return r } }

func TestScheduleDelay(t *testing.T) {
	t.Parallel()
	s := Schedule{10 * time.Second, time.Minute, time.Hour}
	cases := []struct {
		name    string
		retried int
		err     error
		rnd     float64
		want    time.Duration
	}{
		{"first retry, low end", 0, nil, 0, 10 * time.Second},
		{"first retry, middle", 0, nil, 0.5, 11 * time.Second},
		{"first retry, upper half", 0, nil, 0.75, 11500 * time.Millisecond},
		{"second retry", 1, nil, 0.5, 66 * time.Second},
		{"last entry", 2, nil, 0, time.Hour},
		{"past the end repeats the last", 9, nil, 0.5, 66 * time.Minute},
		{"negative counts as the first", -1, nil, 0.5, 11 * time.Second},
		{"out-of-range rnd is clamped", 0, nil, 7, 12 * time.Second},
		{"Retry-After above the base wins", 0,
			&DeliveryError{StatusCode: 429, RetryAfter: 5 * time.Minute}, 0.999999, 5 * time.Minute},
		{"Retry-After is a floor under the jitter", 0,
			&DeliveryError{StatusCode: 503, RetryAfter: 10500 * time.Millisecond}, 0, 10500 * time.Millisecond},
		{"Retry-After below the jitter is ignored", 1,
			&DeliveryError{StatusCode: 503, RetryAfter: 30 * time.Second}, 0.5, 66 * time.Second},
		{"wrapped DeliveryError", 0,
			fmt.Errorf("deliver evt_1: %w", &DeliveryError{StatusCode: 429, RetryAfter: time.Hour}), 0.5, time.Hour},
		{"other errors are ignored", 0, errors.New("boom"), 0.5, 11 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Delay(tc.retried, tc.err, fixed(tc.rnd)); got != tc.want {
				t.Errorf("Delay(%d) = %s, want %s", tc.retried, got, tc.want)
			}
		})
	}
}

func TestScheduleDelayBounds(t *testing.T) {
	t.Parallel()
	for i, base := range DefaultSchedule {
		lo, hi := base, base*12/10
		for _, r := range []float64{0, 0.25, 0.5, 0.75, 0.9999999} {
			if got := DefaultSchedule.Delay(i, nil, fixed(r)); got < lo || got > hi {
				t.Errorf("Delay(%d, rnd=%v) = %s, outside [%s, %s]", i, r, got, lo, hi)
			}
		}
		// And with the real source.
		for range 100 {
			if got := DefaultSchedule.Delay(i, nil, nil); got < lo || got > hi {
				t.Fatalf("Delay(%d) = %s, outside [%s, %s]", i, got, lo, hi)
			}
		}
	}
}

func TestDefaultSchedule(t *testing.T) {
	t.Parallel()
	if got := DefaultSchedule.MaxRetry(); got != 7 {
		t.Errorf("MaxRetry() = %d, want 7", got)
	}
	if DefaultSchedule[0] > 10*time.Second {
		t.Errorf("the first retry waits %s: a blip should be retried within seconds", DefaultSchedule[0])
	}
	var total time.Duration
	for _, d := range DefaultSchedule {
		total += d
	}
	// A receiver down for a day still gets the event: jitter only adds
	// time, so the nominal total is the least it is given.
	if total < 24*time.Hour {
		t.Errorf("the default schedule spans %s, want at least 24h", total)
	}
	t.Logf("default schedule: %d retries over %s (%.1fh)", len(DefaultSchedule), total, total.Hours())
	if got := (Schedule{}).Delay(3, nil, nil); got != 0 {
		t.Errorf("empty Schedule.Delay = %s, want 0", got)
	}
	if got := (Schedule{}).MaxRetry(); got != 0 {
		t.Errorf("empty Schedule.MaxRetry = %d, want 0", got)
	}
}

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Schedule
		ok   bool
	}{
		{"0s,5s,5m", Schedule{0, 5 * time.Second, 5 * time.Minute}, true},
		{" 1s , 2h30m ", Schedule{time.Second, 150 * time.Minute}, true},
		{"100ms", Schedule{100 * time.Millisecond}, true},
		{"", nil, false},
		{"  ", nil, false},
		{"5s,,5m", nil, false},
		{"5s,-1s", nil, false},
		{"5", nil, false},
		{"5s;5m", nil, false},
	}
	for _, tc := range cases {
		got, err := ParseSchedule(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSchedule(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseSchedule(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
