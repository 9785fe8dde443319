package webhook

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Deliver
// and the Receiver run over real loopback HTTP, so a body left unclosed or
// a server left running would show here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
