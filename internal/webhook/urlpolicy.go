package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"
)

// DefaultMaxURLLen is the longest callback URL a URLPolicy accepts unless
// its MaxLen says otherwise, in bytes.
const DefaultMaxURLLen = 2048

// URLPolicy says which callback URLs are accepted, and, on a Client (see
// ClientConfig.Policy), where deliveries may connect. Its zero value is the
// strict default: an absolute https URL to a public host.
//
// Check applies it to a URL when the URL is accepted (a verification, a
// batch, a configured default); the Client applies it again before every
// delivery, and its dial guard checks the address every connection is
// actually made to, so that a name resolving to a denied address (DNS
// rebinding) is refused too.
//
// A URLPolicy is safe for concurrent use once built; do not modify it
// afterwards.
type URLPolicy struct {
	// Allow lists address ranges deliveries may go to although the dial
	// guard denies them (loopback, private, link-local, ...). A URL whose
	// host is an IP address in one of them is accepted, with http too.
	// 127.0.0.0/8 and ::1/128 let a demo or a test deliver to loopback.
	Allow []netip.Prefix
	// AllowHosts lists host names (exact, case-insensitive, a trailing dot
	// ignored) that are accepted with http too, and that the dial guard
	// lets through whatever address they resolve to: listing a name trusts
	// whoever controls its DNS.
	AllowHosts []string
	// MaxLen bounds a URL's length in bytes. Defaults to DefaultMaxURLLen.
	MaxLen int
}

// URLRule names the rule a refused URL broke.
type URLRule string

// The rules of a URLPolicy.
const (
	// RuleLength: the URL is longer than MaxLen.
	RuleLength URLRule = "length"
	// RuleSyntax: the URL does not parse.
	RuleSyntax URLRule = "syntax"
	// RuleAbsolute: the URL is relative (no scheme, or no //host).
	RuleAbsolute URLRule = "absolute"
	// RuleScheme: the scheme is not https (or http for an allowlisted
	// host).
	RuleScheme URLRule = "scheme"
	// RuleUserInfo: the URL carries user:password@.
	RuleUserInfo URLRule = "userinfo"
	// RuleHost: the host is empty or malformed.
	RuleHost URLRule = "host"
	// RuleFragment: the URL has a #fragment, which is never sent.
	RuleFragment URLRule = "fragment"
	// RuleAddress: the host is a loopback, private, link-local or otherwise
	// non-public address (or localhost) and is not allowlisted.
	RuleAddress URLRule = "address"
)

// URLError is why a URLPolicy refused a URL. Neither its Reason nor its
// message holds the URL's user info, path or query, which may carry a
// customer's tokens; the host may appear.
type URLError struct {
	// Rule is the rule broken.
	Rule URLRule
	// Host is the URL's host, lowercased, when it could be read.
	Host string
	// Reason says what is wrong, in words fit for an API's caller.
	Reason string
}

// Error implements error.
func (e *URLError) Error() string { return "webhook URL: " + e.Reason }

// Check returns nil when raw is acceptable under p, and a *URLError saying
// which rule it breaks otherwise. Nothing is resolved: a host name passes
// unless it is localhost (or under .localhost) or looks numeric; where a
// name leads is the dial guard's business, at each connection.
func (p *URLPolicy) Check(raw string) error {
	maxLen := p.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxURLLen
	}
	if len(raw) > maxLen {
		return &URLError{Rule: RuleLength, Reason: fmt.Sprintf("must be at most %d bytes long", maxLen)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL: not kept.
		return &URLError{Rule: RuleSyntax, Reason: "does not parse as a URL"}
	}
	if u.Scheme == "" || u.Opaque != "" {
		return &URLError{Rule: RuleAbsolute, Reason: "must be an absolute URL such as https://example.com/hooks"}
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return &URLError{Rule: RuleScheme, Reason: "must be an https URL"}
	}
	if u.User != nil {
		return &URLError{Rule: RuleUserInfo, Reason: "must not carry user info (user:password@); put a token in the path or query instead"}
	}
	host := normalizeHost(u.Hostname())
	if host == "" {
		return &URLError{Rule: RuleHost, Reason: "has no host"}
	}
	if strings.Contains(raw, "#") { // an empty fragment too
		return &URLError{Rule: RuleFragment, Host: host, Reason: "must not have a #fragment (it is never sent)"}
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return &URLError{Rule: RuleHost, Host: host, Reason: "has a port outside 1-65535"}
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return &URLError{Rule: RuleHost, Host: host, Reason: "has an empty port"}
	}
	allowed := false
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return &URLError{Rule: RuleHost, Host: host, Reason: "must not have an IPv6 zone"}
		}
		allowed = p.allowsAddr(addr)
		if !allowed {
			if err := publicGuard.SafeAddr(addr); err != nil {
				return &URLError{Rule: RuleAddress, Host: host,
					Reason: fmt.Sprintf("host %s is %s; webhooks go to public addresses only", host, rangeName(addr))}
			}
		}
	} else {
		if err := checkHostName(host); err != nil {
			err.Host = host
			return err
		}
		allowed = p.allowsHost(host)
		if !allowed && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
			return &URLError{Rule: RuleAddress, Host: host,
				Reason: fmt.Sprintf("host %s is loopback; webhooks go to public addresses only", host)}
		}
	}
	if u.Scheme == "http" && !allowed {
		return &URLError{Rule: RuleScheme, Host: host, Reason: "must be an https URL (plain http only for allowlisted hosts)"}
	}
	return nil
}

// publicGuard is the dial guard without an allowlist: what Check holds an
// IP literal to.
var publicGuard = ssrf.New(ssrf.WithAnyPort())

// checkHostName refuses what is neither an IP address nor a DNS name: a
// character no name has, or a last label that is numeric (127.1,
// 2130706433, 0x7f.1), which some resolvers read as an IPv4 address.
// Non-ASCII letters pass: the HTTP client converts them (IDNA).
func checkHostName(host string) *URLError {
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r >= 0x80) {
			return &URLError{Rule: RuleHost, Reason: "host is neither a DNS name nor an IP address"}
		}
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" || strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return &URLError{Rule: RuleHost, Reason: "host is neither a DNS name nor a dotted IP address"}
	}
	return nil
}

// normalizeHost lowercases host and drops one trailing dot.
func normalizeHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

func (p *URLPolicy) allowsAddr(addr netip.Addr) bool {
	for _, pr := range p.Allow {
		if pr.Contains(addr) {
			return true
		}
	}
	return false
}

func (p *URLPolicy) allowsHost(host string) bool {
	host = normalizeHost(host)
	return host != "" && slices.ContainsFunc(p.AllowHosts, func(h string) bool { return normalizeHost(h) == host })
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// rangeName says, in a few words, why addr is not public.
func rangeName(addr netip.Addr) string {
	switch {
	case addr.Is4In6():
		return "an IPv4-mapped IPv6 address"
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr == netip.AddrFrom4([4]byte{169, 254, 169, 254}):
		return "the cloud metadata address"
	case addr.IsMulticast():
		return "a multicast address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address"
	case addr.Is6() && addr.IsPrivate():
		return "an IPv6 unique-local address"
	case addr.IsPrivate():
		return "a private address"
	case cgnat.Contains(addr):
		return "a shared (CGNAT) address"
	}
	return "a reserved or special-purpose address"
}

// ParseAllowlist reads a list of CIDRs (127.0.0.0/8), IP addresses (::1)
// and host names (hooks.internal.example), separated by commas or spaces,
// into a URLPolicy's Allow and AllowHosts. An address stands for itself
// alone (/32 or /128).
func ParseAllowlist(list string) (URLPolicy, error) {
	var p URLPolicy
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if pr, err := netip.ParsePrefix(item); err == nil {
			p.Allow = append(p.Allow, pr.Masked())
			continue
		}
		if addr, err := netip.ParseAddr(item); err == nil && addr.Zone() == "" {
			p.Allow = append(p.Allow, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		host := normalizeHost(item)
		if host == "" || checkHostName(host) != nil {
			return URLPolicy{}, fmt.Errorf("%q is neither a CIDR, an IP address nor a host name", item)
		}
		p.AllowHosts = append(p.AllowHosts, host)
	}
	return p, nil
}

// ErrDeniedAddress is wrapped by the error of a delivery whose connection
// the dial guard refused: the endpoint's host resolved to a loopback,
// private, link-local, CGNAT, multicast or otherwise non-public address
// that is not allowlisted. Such a DeliveryError is Permanent.
var ErrDeniedAddress = errors.New("webhook: address denied (not public and not allowlisted)")
