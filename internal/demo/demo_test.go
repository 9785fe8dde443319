package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRun runs the demo on a private redis-server and checks that it kept
// its promises and printed its summary.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{Redis: redistest.New(t).Client(t), N: 200, Out: &out, OutageFor: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Jobs != 200 || sum.Duplicates != 10 || sum.Billed > 200 || sum.BilledByBoth != 0 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	// The primary went down mid-run: jobs failed over to the secondary
	// and came back once it recovered.
	if o := sum.Outage; o == nil || o.FailedOver == 0 || o.Recovered == 0 ||
		sum.ByProvider["tencent-v3"] == 0 || sum.ByProvider["aliyun"] == 0 {
		t.Fatalf("no failover and recovery shown: %+v %+v\n%s", sum.Outage, sum.ByProvider, out.String())
	}
	if sum.ProviderCalls <= sum.Billed || sum.Webhooks.Failed == 0 {
		t.Fatalf("faults were not injected: %+v", sum)
	}
	for _, want := range []string{"summary", "checked vs sandbox   0 wrong, 0 missing", "0 identities by two providers", "failed over to aliyun", "OK:"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
