package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func idCall(orderNo string) call {
	return call{method: http.MethodPost, action: ActionIDCardAuth, business: business(ActionIDCardAuth, orderNo, "张三", aliceID, "", "")}
}

func TestFault5xx(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Faults: Faults{HTTP5xxRate: 1}})
	statuses := map[int]int{}
	for i := range 30 {
		resp, err := b.send(idCall(fmt.Sprint("o", i)))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		statuses[resp.StatusCode]++
		if json.Valid(body) || !strings.HasPrefix(string(body), "<html>") {
			t.Errorf("HTTP %d body %q, want an HTML page", resp.StatusCode, body)
		}
	}
	for s := range statuses {
		if s != 500 && s != 502 && s != 503 {
			t.Errorf("status %d", s)
		}
	}
	if len(statuses) < 2 {
		t.Errorf("statuses %v, want a mix of 500/502/503", statuses)
	}
	st := b.srv.Stats()
	if st.Billed != 0 || st.ByAnswer["http:500"]+st.ByAnswer["http:502"]+st.ByAnswer["http:503"] != 30 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Faults: Faults{DropRate: 1}})
	for i := range 3 {
		resp, err := b.send(idCall(fmt.Sprint("o", i)))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got HTTP %d, want a dropped connection", resp.StatusCode)
		}
	}
	if st := b.srv.Stats(); st.Billed != 0 || st.ByAnswer["drop"] != 3 || st.Calls != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestFaultCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		codes []int
		want  []int
	}{
		{"default codes", nil, []int{5100, 6000, 6200}},
		{"chosen code", []int{5300}, []int{5300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{Faults: Faults{CodeRate: 1, Codes: tc.codes}})
			seen := map[int]bool{}
			for i := range 30 {
				_, r := b.do(t, idCall(fmt.Sprint("o", i)))
				if !slices.Contains(tc.want, r.Code) || r.BspFivBody != nil || r.CodeDesc == "" || r.Message == "" {
					t.Fatalf("got %+v, want one of %v without bspFivBody", r, tc.want)
				}
				seen[r.Code] = true
			}
			if len(seen) != len(tc.want) {
				t.Errorf("codes seen %v, want all of %v", seen, tc.want)
			}
			if st := b.srv.Stats(); st.Billed != 0 {
				t.Errorf("injected codes billed: %+v", st)
			}
		})
	}
}

func TestFaultTimeout(t *testing.T) {
	t.Parallel()
	t.Run("client gives up", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{Faults: Faults{TimeoutRate: 1}}) // holds 30s
		b.client.Timeout = 200 * time.Millisecond
		start := time.Now()
		resp, err := b.send(idCall("o-timeout"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got HTTP %d, want a client timeout", resp.StatusCode)
		}
		if !errorsIsTimeout(err) {
			t.Errorf("err = %v, want a timeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
		if st := b.srv.Stats(); st.Billed != 1 || st.ByAnswer["timeout"] != 1 {
			t.Errorf("stats = %+v, want the held call billed", st)
		}
		// The cleanup's ts.Close waits for the handler, which must notice
		// that the client went away; goleak checks nothing is left.
	})
	t.Run("late answer", func(t *testing.T) {
		t.Parallel()
		const hold = 150 * time.Millisecond
		b := setup(t, Config{Faults: Faults{TimeoutRate: 1, TimeoutHold: hold}})
		start := time.Now()
		code := b.answer(t, idCall("o-late"))
		if d := time.Since(start); d < hold {
			t.Errorf("answer after %v, want at least %v", d, hold)
		}
		if want := Expected(ActionIDCardAuth, Params{Name: "张三", IDNumber: aliceID}); code != want {
			t.Errorf("authCode %s, want %s", code, want)
		}
	})
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	const d = 80 * time.Millisecond
	b := setup(t, Config{Faults: Faults{Latency: Latency{Kind: LatencyFixed, Min: d, Max: d}}})
	start := time.Now()
	b.answer(t, idCall("o-slow"))
	if got := time.Since(start); got < d {
		t.Errorf("answered after %v, want at least %v", got, d)
	}
	// Refusals are not delayed.
	start = time.Now()
	c := idCall("o-slow")
	c.secretKey = "wrong"
	b.do(t, c)
	if got := time.Since(start); got >= d {
		t.Errorf("refusal took %v", got)
	}
}

func TestLatencySample(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	draw := func(l Latency) []time.Duration {
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = l.sample(rng)
		}
		slices.Sort(ds)
		return ds
	}
	if ds := draw(Latency{}); ds[n-1] != 0 {
		t.Errorf("no latency gave %v", ds[n-1])
	}
	if ds := draw(Latency{Kind: LatencyFixed, Min: 20 * time.Millisecond, Max: 20 * time.Millisecond}); ds[0] != ds[n-1] || ds[0] != 20*time.Millisecond {
		t.Errorf("fixed ranges %v..%v", ds[0], ds[n-1])
	}
	u := draw(Latency{Kind: LatencyUniform, Min: 5 * time.Millisecond, Max: 50 * time.Millisecond})
	if u[0] < 5*time.Millisecond || u[n-1] > 50*time.Millisecond {
		t.Errorf("uniform ranges %v..%v", u[0], u[n-1])
	}
	if med := u[n/2]; med < 25*time.Millisecond || med > 30*time.Millisecond {
		t.Errorf("uniform median %v", med)
	}
	lt := Latency{Kind: LatencyLongTail, Min: 10 * time.Millisecond, Max: 800 * time.Millisecond}
	ds := draw(lt)
	p50, p99, top := ds[n/2], ds[n*99/100], ds[n-1]
	if ds[0] < lt.Min || top > 3*lt.Max {
		t.Errorf("long tail ranges %v..%v", ds[0], top)
	}
	if p99 < 600*time.Millisecond || p99 > 1000*time.Millisecond {
		t.Errorf("long tail p99 %v, want about %v", p99, lt.Max)
	}
	if p50 > 100*time.Millisecond {
		t.Errorf("long tail median %v, want well under the max", p50)
	}
}

// outcome describes what a client saw, for comparing runs.
func outcome(b *bundle, c call) string {
	resp, err := b.send(c)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprint("http:", resp.StatusCode)
	}
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "bad json"
	}
	if r.Code != 0 {
		return fmt.Sprint("code:", r.Code)
	}
	return "ok:" + r.BspFivBody.AuthCode
}

func TestFaultDeterminism(t *testing.T) {
	t.Parallel()
	faults := func(seed int64) Faults {
		return Faults{Seed: seed, DropRate: 0.15, HTTP5xxRate: 0.15, CodeRate: 0.15}
	}
	const orders, attempts = 20, 3
	// run sends attempts calls for each orderNo, the orderNos concurrently
	// or one after the other, and returns what each attempt saw.
	run := func(t *testing.T, seed int64, concurrent bool) map[string]string {
		b := setup(t, Config{Faults: faults(seed)})
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for o := range orders {
			work := func() {
				for a := range attempts {
					got := outcome(b, idCall(fmt.Sprint("order-", o)))
					mu.Lock()
					seen[fmt.Sprint(o, "/", a)] = got
					mu.Unlock()
				}
			}
			if concurrent {
				wg.Go(work)
			} else {
				work()
			}
		}
		wg.Wait()
		return seen
	}
	serial := run(t, 7, false)
	parallel := run(t, 7, true)
	if !maps2Equal(serial, parallel) {
		t.Errorf("same seed, different outcomes:\nserial   %v\nparallel %v", serial, parallel)
	}
	kinds := map[string]bool{}
	for _, v := range serial {
		kinds[strings.SplitN(v, ":", 2)[0]] = true
	}
	if len(kinds) < 3 {
		t.Errorf("outcomes %v, want a mix", kinds)
	}
	if other := run(t, 8, false); maps2Equal(serial, other) {
		t.Error("seeds 7 and 8 gave the same outcomes")
	}

	// ResetStats forgets the attempt counts, so a rerun repeats itself.
	b := setup(t, Config{Faults: faults(7)})
	first := outcome(b, idCall("order-0"))
	b.srv.ResetStats()
	if again := outcome(b, idCall("order-0")); again != first {
		t.Errorf("after ResetStats: %s, want %s", again, first)
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDecideRates(t *testing.T) {
	t.Parallel()
	f := Faults{Seed: 3, DropRate: 0.1, HTTP5xxRate: 0.2, CodeRate: 0.05, TimeoutRate: 0.05}
	const n = 20000
	counts := map[faultKind]int{}
	for i := range n {
		d := f.decide(fmt.Sprint("o", i), 0)
		if d != f.decide(fmt.Sprint("o", i), 0) {
			t.Fatal("decide is not deterministic")
		}
		counts[d.kind]++
	}
	want := map[faultKind]float64{faultDrop: 0.1, fault5xx: 0.2, faultCode: 0.05, faultTimeout: 0.05, faultNone: 0.6}
	for k, w := range want {
		if got := float64(counts[k]) / n; got < w-0.015 || got > w+0.015 {
			t.Errorf("%v share %.3f, want %.2f", k, got, w)
		}
	}
	if f.decide("o", 0) == f.decide("o", 1) && f.decide("o", 1) == f.decide("o", 2) && f.decide("o", 2) == f.decide("o", 3) {
		t.Error("the attempt number does not influence the decision")
	}
}

func TestParseLatency(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	cases := []struct {
		in      string
		want    Latency
		wantErr string
	}{
		{"", Latency{}, ""},
		{"none", Latency{}, ""},
		{"fixed:20ms", Latency{LatencyFixed, 20 * ms, 20 * ms}, ""},
		{"uniform:5ms-50ms", Latency{LatencyUniform, 5 * ms, 50 * ms}, ""},
		{"longtail:10ms-800ms", Latency{LatencyLongTail, 10 * ms, 800 * ms}, ""},
		{" uniform:1s-1s ", Latency{LatencyUniform, time.Second, time.Second}, ""},
		{"fixed", Latency{}, "want kind:"},
		{"fixed:fast", Latency{}, "invalid duration"},
		{"fixed:-5ms", Latency{}, "between 0 and 1h"},
		{"uniform:5ms", Latency{}, "uniform:min-max"},
		{"uniform:50ms-5ms", Latency{}, "min must not exceed max"},
		{"uniform:x-5ms", Latency{}, "min:"},
		{"longtail:5ms-y", Latency{}, "max:"},
		{"longtail:5ms-2h", Latency{}, "between 0 and 1h"},
		{"gaussian:5ms-9ms", Latency{}, "unknown kind"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLatency(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// String round-trips, and Set (the flag) agrees.
			back, err := ParseLatency(got.String())
			if err != nil || back != got {
				t.Errorf("ParseLatency(%q) = %+v, %v", got.String(), back, err)
			}
			var flag Latency
			if err := flag.Set(tc.in); err != nil || flag != got {
				t.Errorf("Set = %+v, %v", flag, err)
			}
		})
	}
}

// TestInFlight: Stats.InFlight counts a call from its arrival until its
// answer is written, and a reset leaves the gauge alone.
func TestInFlight(t *testing.T) {
	t.Parallel()
	const d = 300 * time.Millisecond
	b := setup(t, Config{Faults: Faults{Latency: Latency{Kind: LatencyFixed, Min: d, Max: d}}})
	done := make(chan error, 1)
	go func() {
		resp, err := b.send(idCall("o-inflight"))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for b.srv.Stats().InFlight != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the call never showed in InFlight")
		}
		time.Sleep(time.Millisecond)
	}
	b.srv.ResetStats()
	if got := b.srv.Stats().InFlight; got != 1 {
		t.Errorf("InFlight after a reset = %d, want 1", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := b.srv.Stats().InFlight; got != 0 {
		t.Errorf("InFlight after the answer = %d, want 0", got)
	}
}
