package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// loopback lets a test Client deliver to the loopback servers the tests
// start, explicitly, as the demo does.
var loopback = URLPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

// envProxy is a listener that HTTP_PROXY and HTTPS_PROXY name for the whole
// test binary: any connection to it is a delivery that used the
// environment's proxy, and fails the package.
var envProxy struct {
	addr string
	hits atomic.Int32
}

// TestMain fails the package if a test leaves a goroutine behind (Deliver
// and the Receiver run over real loopback HTTP, so a body left unclosed or
// a server left running would show here), or if anything connected to the
// proxy the environment names.
func TestMain(m *testing.M) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			envProxy.hits.Add(1)
			_ = c.Close()
		}
	})
	envProxy.addr = ln.Addr().String()
	// Set before anything reads them: net/http reads them once.
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		_ = os.Setenv(k, "http://"+envProxy.addr)
	}
	for _, k := range []string{"NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
		_ = os.Unsetenv(k)
	}

	code := m.Run()

	_ = ln.Close()
	wg.Wait()
	if n := envProxy.hits.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the proxy named by HTTP(S)_PROXY got %d connections\n", n)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
