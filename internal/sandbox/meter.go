package sandbox

import (
	"hash/fnv"
	"math/bits"
	"strings"
	"time"
)

// meter holds the billing counters that span providers. Tencent v3 and
// Alibaba Cloud carry no order number, so double billing is found by
// identity: each billed call is keyed by identityKey, and the meter
// remembers which providers billed each key, in one byte a key.
type meter struct {
	// identities maps an identity key to the set of providers (bit p) that
	// billed it. 8+1 bytes a key keep a million identities to a few tens
	// of MB; a collision among a million has a probability around 1e-8.
	identities    map[uint64]uint8
	orderNoReused int64 // Stats.OrderNoReused
	crossBilled   int64 // Stats.BilledByMoreThanOneProvider
	maxPerSecond  int64 // Stats.MaxPerSecond
}

func newMeter() meter {
	return meter{identities: make(map[uint64]uint8)}
}

// bill books one billed call of provider p for the identity key id; s.mu
// must be held.
func (s *Server) bill(p provider, id uint64) {
	ps := &s.prov[p].stats
	ps.Billed++
	bit := uint8(1) << p
	set := s.meter.identities[id]
	switch {
	case set&bit != 0:
		ps.IdentityReused++
	case bits.OnesCount8(set) == 1:
		// A second provider bills it: count the identity once, when it
		// crosses the line.
		s.meter.crossBilled++
	}
	s.meter.identities[id] = set | bit
}

// identityKey returns the meter's key of an identity checked by the kind that
// the v2 action names: an FNV-64a hash of the kind and of the fields the
// kind checks, normalised (surrounding spaces trimmed from the name, an
// upper-case X in the ID number, no +86 prefix on the phone), so the same
// check keys the same whichever protocol asks.
func identityKey(kind string, p Params) uint64 {
	p = normalize(p)
	return hashIdentity(kind, strings.TrimSpace(p.Name), p)
}

// hashString is the FNV-64a hash of s.
func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// admitted books a call that passed every quota into the peak rates; s.mu
// must be held.
func (s *Server) admitted(p provider, now time.Time) {
	run := &s.prov[p]
	run.stats.MaxPerSecond = max(run.stats.MaxPerSecond, run.peak.add(now))
	s.meter.maxPerSecond = max(s.meter.maxPerSecond, s.peak.add(now))
}

// slidingPeak counts the calls of the last 1000 ms, for the most calls in
// any sliding second: the times of those calls, oldest first.
type slidingPeak struct {
	times []time.Time
}

// add records a call at now and returns how many calls the 1000 ms ending
// at now hold.
func (p *slidingPeak) add(now time.Time) int64 {
	drop := 0
	for drop < len(p.times) && now.Sub(p.times[drop]) >= time.Second {
		drop++
	}
	if drop > 0 {
		// Shift down, keeping the backing array: a steady rate reuses it.
		p.times = p.times[:copy(p.times, p.times[drop:])]
	}
	p.times = append(p.times, now)
	return int64(len(p.times))
}
