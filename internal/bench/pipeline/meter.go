package main

import (
	"context"
	"sync"
	"time"

	"github.com/realname-io/realname/internal/harness"
)

// pollEvery is how often the sandbox's meter is read during a run: the
// resolution of the steady rate and of the plot.
const pollEvery = 250 * time.Millisecond

// meterSample is one reading of the sandbox's meter.
type meterSample struct {
	at                     time.Time
	calls, billed, refused int64
}

// sampler reads the sandbox's meter every pollEvery in the background.
type sampler struct {
	mu      sync.Mutex
	samples []meterSample
	stop    context.CancelFunc
	done    chan struct{}
}

// startSampler starts reading sb's meter until stop.
func startSampler(ctx context.Context, sb *harness.Sandbox) *sampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &sampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(pollEvery)
		defer t.Stop()
		for {
			// The time before the request: the sandbox reads its counters
			// within a millisecond of it.
			at := time.Now()
			if st, err := sb.Stats(ctx); err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, meterSample{at: at, calls: st.Calls, billed: st.Billed, refused: st.QuotaRefused})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops the sampler and returns its readings.
func (s *sampler) finish() []meterSample {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// steadyRate returns the billed calls/s between edge after the first call
// and edge before the last, leaving out the ramp-up and the tail of a run.
// The first call is placed at the first reading that shows one, the last at
// the first reading that shows the final count. ok is false when the run
// was too short to have a steady part.
func steadyRate(samples []meterSample, edge time.Duration) (rate float64, ok bool) {
	if len(samples) < 2 {
		return 0, false
	}
	final := samples[len(samples)-1].calls
	first, last := -1, -1
	for i, s := range samples {
		if first < 0 && s.calls > 0 {
			first = i
		}
		if last < 0 && s.calls == final {
			last = i
		}
	}
	if first < 0 || last < 0 {
		return 0, false
	}
	from, to := samples[first].at.Add(edge), samples[last].at.Add(-edge)
	if !to.After(from) {
		return 0, false
	}
	billed := func(at time.Time) float64 {
		return interpolate(samples, at, func(s meterSample) int64 { return s.billed })
	}
	return (billed(to) - billed(from)) / to.Sub(from).Seconds(), true
}

// interpolate returns the value of a counter at time at, linearly between
// the readings around it.
func interpolate(samples []meterSample, at time.Time, v func(meterSample) int64) float64 {
	if !at.After(samples[0].at) {
		return float64(v(samples[0]))
	}
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if at.After(b.at) {
			continue
		}
		frac := float64(at.Sub(a.at)) / float64(b.at.Sub(a.at))
		return float64(v(a)) + frac*float64(v(b)-v(a))
	}
	return float64(v(samples[len(samples)-1]))
}

// callRates returns the calls/s between consecutive readings, each placed
// at the middle of its interval, in seconds since origin: the plot's line.
func callRates(samples []meterSample, origin time.Time) []point {
	var pts []point
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 {
			continue
		}
		mid := a.at.Add(b.at.Sub(a.at) / 2)
		pts = append(pts, point{x: mid.Sub(origin).Seconds(), y: float64(b.calls-a.calls) / dt})
	}
	return pts
}
