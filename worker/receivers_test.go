package worker

import (
	"testing"
	"time"
)

// TestReceiverCircuits: a receiver failing receiverFailures times in a row
// gets no inline attempt until its circuit's open time has passed, then
// one probe; other receivers are not affected, and a success closes it.
func TestReceiverCircuits(t *testing.T) {
	t.Parallel()
	r := newReceiverCircuits(100 * time.Millisecond)
	const bad, good = "https://down.example:8443/hooks?x=1", "https://up.example/hooks"
	for i := range receiverFailures {
		done, ok := r.allow(bad)
		if !ok {
			t.Fatalf("attempt %d refused before %d failures", i+1, receiverFailures)
		}
		done(false)
	}
	if _, ok := r.allow("https://down.example:8443/other-path"); ok {
		t.Fatal("circuit of a failing receiver (same scheme and host) still allows inline attempts")
	}
	if done, ok := r.allow(good); !ok {
		t.Fatal("another receiver's circuit opened too")
	} else {
		done(true)
	}
	time.Sleep(150 * time.Millisecond)
	probe, ok := r.allow(bad)
	if !ok {
		t.Fatal("no probe after the open time")
	}
	if _, ok := r.allow(bad); ok {
		t.Fatal("a second attempt while the probe runs")
	}
	probe(true)
	for range 5 {
		done, ok := r.allow(bad)
		if !ok {
			t.Fatal("circuit not closed after a successful probe")
		}
		done(true)
	}
}
