package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestRun runs the demo on a private redis-server and checks that it kept
// its promises and printed its summary.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{Redis: redistest.New(t).Client(t), N: 120, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Jobs != 120 || sum.Duplicates != 10 || sum.Billed != 120 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	if sum.ProviderCalls <= sum.Billed || sum.Webhooks.Failed == 0 {
		t.Fatalf("faults were not injected: %+v", sum)
	}
	for _, want := range []string{"summary", "checked vs sandbox   0 wrong, 0 missing", "OK:"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}
