package webhook

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// secretPW stands for a password in a URL's user info: no error may
// repeat it.
const secretPW = "USERPASSWORD5"

func TestURLPolicyCheck(t *testing.T) {
	t.Parallel()
	const tail = "/hooks/" + pathToken + "?token=" + queryToken
	strict := URLPolicy{}
	allow := URLPolicy{
		Allow:      []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		AllowHosts: []string{"Hooks.Internal.", "localhost"},
	}
	short := URLPolicy{MaxLen: 40}
	long := "https://example.com/" + strings.Repeat("a", DefaultMaxURLLen-len("https://example.com/"))
	cases := []struct {
		name   string
		policy URLPolicy
		url    string
		rule   URLRule // "" for accepted
		host   string  // the URLError's Host, when the rule names one
	}{
		// Accepted.
		{"https", strict, "https://example.com" + tail, "", ""},
		{"https with a port", strict, "https://example.com:8443" + tail, "", ""},
		{"upper-case scheme and host", strict, "HTTPS://EXAMPLE.COM" + tail, "", ""},
		{"trailing dot", strict, "https://example.com." + tail, "", ""},
		{"internationalised name", strict, "https://例子.测试" + tail, "", ""},
		{"public IPv4", strict, "https://1.1.1.1" + tail, "", ""},
		{"public IPv6", strict, "https://[2606:4700:4700::1111]" + tail, "", ""},
		{"exactly the maximum length", strict, long, "", ""},

		// Relative or not a URL.
		{"empty", strict, "", RuleAbsolute, ""},
		{"path only", strict, "/hooks/" + pathToken, RuleAbsolute, ""},
		{"no scheme", strict, "example.com" + tail, RuleAbsolute, ""},
		{"scheme-relative", strict, "//example.com" + tail, RuleAbsolute, ""},
		{"opaque", strict, "https:example.com" + tail, RuleAbsolute, ""},
		{"javascript", strict, "javascript:alert(1)", RuleAbsolute, ""},
		{"not a URL", strict, "not-a-url", RuleAbsolute, ""},
		{"space in host", strict, "https://exa mple.com" + tail, RuleSyntax, ""},
		{"bad escape", strict, "https://example.com/%zz" + tail, RuleSyntax, ""},
		{"bad port", strict, "https://example.com:" + queryToken + "/", RuleSyntax, ""},

		// Scheme.
		{"ftp", strict, "ftp://example.com" + tail, RuleScheme, ""},
		{"file", strict, "file:///etc/passwd", RuleScheme, ""},
		{"gopher", strict, "gopher://example.com" + tail, RuleScheme, ""},
		{"plain http to a public host", strict, "http://example.com" + tail, RuleScheme, "example.com"},
		{"plain http to a host not on the allowlist", allow, "http://example.com" + tail, RuleScheme, "example.com"},

		// User info.
		{"user and password", strict, "https://user:" + secretPW + "@example.com" + tail, RuleUserInfo, ""},
		{"user only", strict, "https://" + secretPW + "@example.com" + tail, RuleUserInfo, ""},
		{"password only", strict, "https://:" + secretPW + "@example.com" + tail, RuleUserInfo, ""},

		// Host.
		{"no host", strict, "https:///hooks" + tail, RuleHost, ""},
		{"only a port", strict, "https://:443" + tail, RuleHost, ""},
		{"port 0", strict, "https://example.com:0" + tail, RuleHost, "example.com"},
		{"port too large", strict, "https://example.com:65536" + tail, RuleHost, "example.com"},
		{"odd character", strict, "https://exa!mple.com" + tail, RuleHost, "exa!mple.com"},
		{"decimal IPv4", strict, "https://2130706433" + tail, RuleHost, "2130706433"},
		{"short IPv4", strict, "https://127.1" + tail, RuleHost, "127.1"},
		{"hex IPv4", strict, "https://0x7f.1" + tail, RuleHost, "0x7f.1"},
		{"octal IPv4", strict, "https://0177.0.0.1" + tail, RuleHost, "0177.0.0.1"},
		{"numeric top-level label", strict, "https://example.123" + tail, RuleHost, "example.123"},
		{"IPv6 zone", strict, "https://[fe80::1%25eth0]" + tail, RuleHost, "fe80::1%eth0"},

		// Fragment.
		{"fragment", strict, "https://example.com" + tail + "#" + pathToken, RuleFragment, "example.com"},
		{"empty fragment", strict, "https://example.com" + tail + "#", RuleFragment, "example.com"},

		// Length.
		{"one byte too long", strict, long + "a", RuleLength, ""},
		{"over a configured maximum", short, "https://example.com" + tail, RuleLength, ""},

		// Non-public addresses, as literals.
		{"loopback", strict, "https://127.0.0.1" + tail, RuleAddress, "127.0.0.1"},
		{"loopback, the far end", strict, "https://127.255.255.254" + tail, RuleAddress, "127.255.255.254"},
		{"loopback with a trailing dot", strict, "https://127.0.0.1." + tail, RuleAddress, "127.0.0.1"},
		{"loopback, percent-encoded", strict, "https://%31%32%37.0.0.1" + tail, RuleSyntax, ""}, // net/url refuses it
		{"this network", strict, "https://0.0.0.0" + tail, RuleAddress, "0.0.0.0"},
		{"private 10/8", strict, "https://10.0.0.1" + tail, RuleAddress, "10.0.0.1"},
		{"private 172.16/12", strict, "https://172.31.255.1" + tail, RuleAddress, "172.31.255.1"},
		{"private 192.168/16", strict, "https://192.168.1.1" + tail, RuleAddress, "192.168.1.1"},
		{"cloud metadata", strict, "http://169.254.169.254/latest/meta-data/", RuleAddress, "169.254.169.254"},
		{"link-local", strict, "https://169.254.1.1" + tail, RuleAddress, "169.254.1.1"},
		{"CGNAT", strict, "https://100.64.0.1" + tail, RuleAddress, "100.64.0.1"},
		{"CGNAT, the far end", strict, "https://100.127.255.254" + tail, RuleAddress, "100.127.255.254"},
		{"multicast", strict, "https://224.0.0.1" + tail, RuleAddress, "224.0.0.1"},
		{"reserved", strict, "https://240.0.0.1" + tail, RuleAddress, "240.0.0.1"},
		{"broadcast", strict, "https://255.255.255.255" + tail, RuleAddress, "255.255.255.255"},
		{"documentation", strict, "https://192.0.2.1" + tail, RuleAddress, "192.0.2.1"},
		{"benchmarking", strict, "https://198.18.0.1" + tail, RuleAddress, "198.18.0.1"},
		{"IPv6 loopback", strict, "https://[::1]" + tail, RuleAddress, "::1"},
		{"IPv6 unspecified", strict, "https://[::]" + tail, RuleAddress, "::"},
		{"IPv6 unique-local", strict, "https://[fc00::1]" + tail, RuleAddress, "fc00::1"},
		{"IPv6 unique-local metadata", strict, "https://[fd00:ec2::254]" + tail, RuleAddress, "fd00:ec2::254"},
		{"IPv6 link-local", strict, "https://[fe80::1]" + tail, RuleAddress, "fe80::1"},
		{"IPv6 multicast", strict, "https://[ff02::1]" + tail, RuleAddress, "ff02::1"},
		{"IPv4-mapped loopback", strict, "https://[::ffff:127.0.0.1]" + tail, RuleAddress, "::ffff:127.0.0.1"},
		{"IPv4-mapped public", strict, "https://[::ffff:8.8.8.8]" + tail, RuleAddress, "::ffff:8.8.8.8"},
		{"NAT64 of loopback", strict, "https://[64:ff9b::7f00:1]" + tail, RuleAddress, "64:ff9b::7f00:1"},
		{"IPv6 documentation", strict, "https://[2001:db8::1]" + tail, RuleAddress, "2001:db8::1"},
		{"localhost", strict, "https://localhost" + tail, RuleAddress, "localhost"},
		{"LOCALHOST.", strict, "https://LOCALHOST.:8080" + tail, RuleAddress, "localhost"},
		{"under .localhost", strict, "https://api.localhost" + tail, RuleAddress, "api.localhost"},

		// Allowlisted.
		{"allowlisted loopback over http", allow, "http://127.0.0.1:8080" + tail, "", ""},
		{"allowlisted loopback over https", allow, "https://127.0.0.2" + tail, "", ""},
		{"allowlisted IPv6 loopback", allow, "http://[::1]:8080" + tail, "", ""},
		{"allowlisted host over http", allow, "http://hooks.internal" + tail, "", ""},
		{"allowlisted host, other case", allow, "http://HOOKS.internal." + tail, "", ""},
		{"allowlisted localhost", allow, "http://localhost:9000" + tail, "", ""},
		{"private, not on the allowlist", allow, "http://10.0.0.1" + tail, RuleAddress, "10.0.0.1"},
		{"mapped loopback, not on the allowlist", allow, "http://[::ffff:127.0.0.1]" + tail, RuleAddress, "::ffff:127.0.0.1"},
		{"a subdomain of an allowlisted host", allow, "http://x.hooks.internal" + tail, RuleScheme, "x.hooks.internal"},
		{"user info, allowlisted", allow, "http://u:" + secretPW + "@127.0.0.1" + tail, RuleUserInfo, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.policy.Check(tc.url)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("Check = %v (%T), want a *URLError", err, err)
			}
			if ue.Rule != tc.rule {
				t.Errorf("Rule = %s (%v), want %s", ue.Rule, err, tc.rule)
			}
			if tc.host != "" && ue.Host != tc.host {
				t.Errorf("Host = %q, want %q", ue.Host, tc.host)
			}
			if ue.Reason == "" || !strings.HasPrefix(err.Error(), "webhook URL: ") {
				t.Errorf("message %q", err)
			}
			for _, s := range []string{pathToken, queryToken, secretPW} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q repeats %q", err, s)
				}
			}
			if tc.rule == RuleAddress && !strings.Contains(err.Error(), ue.Host) {
				t.Errorf("error %q does not name the host", err)
			}
		})
	}
}

func TestRangeNames(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"127.0.0.1":        "loopback",
		"10.1.2.3":         "private",
		"169.254.169.254":  "cloud metadata",
		"169.254.9.9":      "link-local",
		"100.64.1.1":       "CGNAT",
		"224.0.0.251":      "multicast",
		"fd12::1":          "unique-local",
		"::ffff:10.0.0.1":  "IPv4-mapped",
		"0.0.0.0":          "unspecified",
		"192.0.2.7":        "special-purpose",
		"::ffff:127.0.0.1": "IPv4-mapped",
	} {
		err := (&URLPolicy{}).Check("https://" + netip.AddrPortFrom(netip.MustParseAddr(addr), 443).String() + "/")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to say %q", addr, err, want)
		}
	}
}

func TestParseAllowlist(t *testing.T) {
	t.Parallel()
	p, err := ParseAllowlist(" 127.0.0.0/8, ::1 10.1.2.3/8,\nHooks.Internal., localhost 192.168.5.5")
	if err != nil {
		t.Fatal(err)
	}
	wantAllow := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.5.5/32"),
	}
	if !slices.Equal(p.Allow, wantAllow) || !slices.Equal(p.AllowHosts, []string{"hooks.internal", "localhost"}) {
		t.Errorf("ParseAllowlist = %v, %v", p.Allow, p.AllowHosts)
	}
	if p, err := ParseAllowlist(""); err != nil || p.Allow != nil || p.AllowHosts != nil {
		t.Errorf("empty list: %+v, %v", p, err)
	}
	for _, bad := range []string{"http://x.example", "1.2.3.4/33", "fe80::1%eth0", "a/b", "host:80", "127.1", "x..", "*.example.com"} {
		if _, err := ParseAllowlist("127.0.0.1," + bad); err == nil {
			t.Errorf("ParseAllowlist(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseAllowlist(%q) = %v, want it to name the item", bad, err)
		}
	}
}
