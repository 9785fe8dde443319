package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// stubResolver returns a resolver that answers every A question (AAAA for
// an IPv6 ip) with ip, from memory: no query leaves the process. It stands
// for a DNS server an attacker controls, which can point any name anywhere.
func stubResolver(ip netip.Addr) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe() // a stream: the resolver frames messages as over TCP
		go serveDNS(server, ip)
		return client, nil
	}}
}

// serveDNS answers the length-prefixed queries read from c until c closes.
func serveDNS(c net.Conn, ip netip.Addr) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		resp := dnsAnswer(q, ip)
		if resp == nil {
			return
		}
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
			return
		}
	}
}

// dnsAnswer builds the answer to query q: its first question echoed, and
// ip when the question's type is ip's (A or AAAA), else no record.
func dnsAnswer(q []byte, ip netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 { // the name's labels
		i += int(q[i]) + 1
	}
	i++ // its root label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	var rdata []byte
	if (qtype == 1 && ip.Is4()) || (qtype == 28 && ip.Is6()) {
		rdata = ip.AsSlice()
	}
	var an byte
	if rdata != nil {
		an = 1
	}
	// ID; a response, recursion desired and available, no error; one
	// question, an answers.
	resp := []byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, an, 0, 0, 0, 0}
	resp = append(resp, q[12:i+4]...)
	if rdata != nil {
		resp = append(resp, 0xc0, 12) // the question's name
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // IN
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp
}

// tlsTarget is an https receiver on 127.0.0.1 whose certificate is valid
// for example.com and *.example.com, and counts its requests.
type tlsTarget struct {
	srv  *httptest.Server
	port string
	hits atomic.Int32
}

func newTLSTarget(t *testing.T) *tlsTarget {
	t.Helper()
	tt := &tlsTarget{}
	tt.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tt.hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(tt.srv.Close)
	_, tt.port, _ = net.SplitHostPort(tt.srv.Listener.Addr().String())
	return tt
}

// trust makes c's default transport trust tt's certificate.
func (tt *tlsTarget) trust(t *testing.T, c *Client) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(tt.srv.Certificate())
	tr := c.http.Transport.(*http.Transport)
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.RootCAs = pool
	t.Cleanup(tr.CloseIdleConnections)
}

// TestDialGuard delivers to an https receiver on 127.0.0.1, named by an IP
// literal or by a name that a resolver of the test's own points at
// loopback (DNS rebinding) or elsewhere: refused unless allowlisted.
func TestDialGuard(t *testing.T) {
	t.Parallel()
	target := newTLSTarget(t)
	loop := netip.MustParseAddr("127.0.0.1")
	cases := []struct {
		name    string
		host    string     // the endpoint's host
		resolve netip.Addr // what every name resolves to
		policy  URLPolicy
		want    string // "ok", "denied" (by the dial guard) or "invalid" (by the URL check)
	}{
		{"name resolving to loopback", "rebind.example.com", loop, URLPolicy{}, "denied"},
		{"name resolving to loopback, loopback allowlisted", "rebind.example.com", loop, loopback, "ok"},
		{"name resolving to loopback, name allowlisted", "rebind.example.com", loop, URLPolicy{AllowHosts: []string{"rebind.example.com"}}, "ok"},
		{"name resolving to loopback, another name allowlisted", "rebind.example.com", loop, URLPolicy{AllowHosts: []string{"other.example.com"}}, "denied"},
		{"name resolving to loopback, only 10/8 allowlisted", "rebind.example.com", loop, URLPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, "denied"},
		{"name resolving to a private address", "rebind.example.com", netip.MustParseAddr("10.0.0.1"), loopback, "denied"},
		{"name resolving to the metadata address", "rebind.example.com", netip.MustParseAddr("169.254.169.254"), loopback, "denied"},
		{"name resolving to CGNAT", "rebind.example.com", netip.MustParseAddr("100.64.0.1"), loopback, "denied"},
		{"name resolving to IPv6 loopback", "rebind.example.com", netip.MustParseAddr("::1"), URLPolicy{}, "denied"},
		{"name resolving to IPv6 unique-local", "rebind.example.com", netip.MustParseAddr("fd00::1"), loopback, "denied"},
		{"loopback literal", "127.0.0.1", loop, URLPolicy{}, "invalid"},
		{"loopback literal, allowlisted", "127.0.0.1", loop, loopback, "ok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, ClientConfig{Policy: tc.policy, Resolver: stubResolver(tc.resolve)})
			target.trust(t, b.client)
			err := b.client.Deliver(context.Background(), "https://"+net.JoinHostPort(tc.host, target.port)+"/hooks/"+pathToken+"?token="+queryToken, "evt_1", []byte(`{}`))
			switch tc.want {
			case "ok":
				if err != nil {
					t.Fatalf("Deliver = %v, want delivered", err)
				}
				return
			case "denied":
				var de *DeliveryError
				if !errors.As(err, &de) || !errors.Is(err, ErrDeniedAddress) || !de.Permanent() || de.StatusCode != 0 {
					t.Fatalf("Deliver = %v, want a permanent DeliveryError wrapping ErrDeniedAddress", err)
				}
			case "invalid":
				var ue *URLError
				if !errors.Is(err, ErrInvalidRequest) || !errors.As(err, &ue) || ue.Rule != RuleAddress {
					t.Fatalf("Deliver = %v, want ErrInvalidRequest with a RuleAddress URLError", err)
				}
			}
			checkRedacted(t, err)
		})
	}
	// The parent's cleanup runs once the parallel cases are done.
	t.Cleanup(func() {
		if n := target.hits.Load(); n != 3 {
			t.Errorf("the receiver got %d requests, want 3 (from the allowed cases only)", n)
		}
	})
}

// TestDialGuardControl holds the guard to each denied range, and to the
// allowlist, without a connection: the guard runs before connect.
func TestDialGuardControl(t *testing.T) {
	t.Parallel()
	denied := []string{
		"127.0.0.1:443", "127.8.9.10:8080", "0.0.0.0:80", "10.0.0.1:443", "172.16.0.1:443", "192.168.0.1:443",
		"169.254.169.254:80", "169.254.0.1:443", "100.64.0.1:443", "100.127.255.255:443", "224.0.0.1:443",
		"239.255.255.250:1900", "255.255.255.255:443", "192.0.2.1:443", "198.51.100.1:443", "203.0.113.1:443",
		"[::1]:443", "[::]:443", "[fc00::1]:443", "[fd00:ec2::254]:80", "[fe80::1]:443", "[ff02::1]:443",
		"[::ffff:127.0.0.1]:443", "[::ffff:10.0.0.1]:443", "[::ffff:8.8.8.8]:443", "[64:ff9b::7f00:1]:443", "[2001:db8::1]:443",
	}
	public := []string{"1.1.1.1:443", "8.8.8.8:8443", "93.184.215.14:80", "[2606:4700:4700::1111]:443"}
	allowed := URLPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	control := func(p URLPolicy) func(network, address string) error {
		c := guardedControl(p)
		return func(network, address string) error { return c(network, address, nil) }
	}
	strict := control(URLPolicy{})
	for _, a := range denied {
		if err := strict(tcpOf(a), a); !errors.Is(err, ErrDeniedAddress) {
			t.Errorf("%s: Control = %v, want ErrDeniedAddress", a, err)
		}
	}
	for _, a := range public {
		if err := strict(tcpOf(a), a); err != nil {
			t.Errorf("%s: Control = %v, want nil", a, err)
		}
	}
	loose := control(allowed)
	for _, a := range []string{"127.0.0.1:443", "10.9.9.9:80", "[fd00::1]:443"} {
		if err := loose(tcpOf(a), a); err != nil {
			t.Errorf("%s allowlisted: Control = %v, want nil", a, err)
		}
	}
	for _, a := range []string{"169.254.169.254:80", "192.168.0.1:443", "[::ffff:127.0.0.1]:443"} {
		if err := loose(tcpOf(a), a); !errors.Is(err, ErrDeniedAddress) {
			t.Errorf("%s with another range allowlisted: Control = %v, want ErrDeniedAddress", a, err)
		}
	}
	if err := strict("udp4", "1.1.1.1:53"); !errors.Is(err, ErrDeniedAddress) {
		t.Errorf("udp: Control = %v, want ErrDeniedAddress", err)
	}
}

// tcpOf returns the network a dialer names for addr: tcp6 for [v6]:port.
func tcpOf(addr string) string {
	if strings.HasPrefix(addr, "[") {
		return "tcp6"
	}
	return "tcp4"
}

// TestDeliverIgnoresProxyEnvironment: HTTP_PROXY and HTTPS_PROXY name a
// listener (see TestMain) that this very request would go through if the
// environment were read; the delivery goes straight to the receiver.
func TestDeliverIgnoresProxyEnvironment(t *testing.T) {
	t.Parallel()
	target := newTLSTarget(t)
	endpoint := "https://hooks.example.com:" + target.port + "/hooks"
	req, _ := http.NewRequest(http.MethodPost, endpoint, nil)
	if pu, err := http.ProxyFromEnvironment(req); err != nil || pu == nil || pu.Host != envProxy.addr {
		t.Fatalf("the environment does not send this request to the trap proxy (%v, %v): the test would prove nothing", pu, err)
	}
	b := setupDeliver(t, ClientConfig{Resolver: stubResolver(netip.MustParseAddr("127.0.0.1"))})
	if tr := b.client.http.Transport.(*http.Transport); tr.Proxy != nil {
		t.Error("the default transport has a Proxy function")
	}
	target.trust(t, b.client)
	if err := b.client.Deliver(context.Background(), endpoint, "evt_1", []byte(`{}`)); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	if target.hits.Load() != 1 {
		t.Errorf("the receiver got %d requests, want 1", target.hits.Load())
	}
	if n := envProxy.hits.Load(); n != 0 {
		t.Errorf("the environment's proxy got %d connections", n)
	}
}

// TestDeliverThroughConfiguredProxy: a configured proxy gets the delivery
// (it does the dialing, so the guard does not stand in its way, nor in the
// way of its own loopback address), and the URL check still applies.
func TestDeliverThroughConfiguredProxy(t *testing.T) {
	t.Parallel()
	var seen atomic.Pointer[string]
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := r.URL.String() // absolute-form: what a proxy is asked for
		seen.Store(&u)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(proxy.Close)
	pu, _ := url.Parse(proxy.URL)
	b := setupDeliver(t, ClientConfig{Proxy: pu, Policy: URLPolicy{AllowHosts: []string{"hooks.example.com"}}})
	if err := b.client.Deliver(context.Background(), "http://hooks.example.com/hooks?token="+queryToken, "evt_1", []byte(`{}`)); err != nil {
		t.Fatalf("Deliver through the proxy = %v", err)
	}
	if got := seen.Load(); got == nil || *got != "http://hooks.example.com/hooks?token="+queryToken {
		t.Errorf("the proxy was asked for %v", got)
	}
	err := b.client.Deliver(context.Background(), "https://10.0.0.1/hooks", "evt_2", []byte(`{}`))
	if !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("a private literal through the proxy: Deliver = %v, want ErrInvalidRequest", err)
	}
	if n := envProxy.hits.Load(); n != 0 {
		t.Errorf("the environment's proxy got %d connections", n)
	}

	for _, bad := range []string{"ftp://proxy.example:21", "http:///nohost"} {
		u, _ := url.Parse(bad)
		if _, err := NewClient(ClientConfig{Signer: b.client.signer, Proxy: u}); err == nil {
			t.Errorf("NewClient with Proxy %s: want an error", bad)
		}
	}
}
