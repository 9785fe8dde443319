package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"code.dny.dev/ssrf"
)

// guardedDial returns a DialContext for the webhook transport: it dials
// with d, and code.dny.dev/ssrf's guard as the dialer's Control checks the
// address of every connection after resolution, so a name that resolves
// to a denied address (DNS rebinding included) is refused as surely as the
// address itself. The guard denies everything outside public unicast
// (IANA's special-purpose registries: loopback, RFC 1918, link-local and
// 169.254.169.254, CGNAT, multicast, IPv6 unique-local, IPv4-mapped,
// NAT64, documentation, ...), on any port, TCP only; p.Allow is let
// through. A host in p.AllowHosts is dialed without the guard, whatever
// it resolves to.
func guardedDial(d *net.Dialer, p URLPolicy) func(ctx context.Context, network, addr string) (net.Conn, error) {
	guarded := *d
	guarded.Control = guardedControl(p)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && len(p.AllowHosts) > 0 && p.allowsHost(host) {
			return d.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
}

// guardedControl is the guard as a net.Dialer.Control: it refuses, with
// an error wrapping ErrDeniedAddress, a connection to an address outside
// public unicast that is not in p.Allow, or one that is not TCP.
func guardedControl(p URLPolicy) func(network, address string, c syscall.RawConn) error {
	var v4, v6 []netip.Prefix
	for _, pr := range p.Allow {
		if pr.Addr().Is4() {
			v4 = append(v4, pr)
		} else {
			v6 = append(v6, pr)
		}
	}
	guard := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	return func(network, address string, c syscall.RawConn) error {
		if err := guard.Safe(network, address, c); err != nil {
			return fmt.Errorf("%w: %w", ErrDeniedAddress, err)
		}
		return nil
	}
}
