package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/aliyun"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/provider/tencentv3"
)

// ProviderNames are the providers realname speaks, as the routing settings
// name them.
var ProviderNames = []string{tencentv2.Name, tencentv3.Name, aliyun.Name}

// Providers chooses and configures the providers: per kind a primary and
// an optional secondary, each provider's credentials and endpoint, the
// quotas and the failover circuit.
type Providers struct {
	// Tencent holds the Tencent Cloud API key, shared by the v2 gateway
	// and API 3.0, and the v2 gateway's settings.
	Tencent *Tencent
	// Primary is the provider of every kind without a setting of its own.
	// Defaults to "tencent-v2".
	Primary string
	// Fallback is the secondary of every kind without a setting of its
	// own. Defaults to none.
	Fallback string
	// PrimaryByKind and FallbackByKind override Primary and Fallback per
	// kind; "none" as a fallback turns it off for that kind.
	PrimaryByKind, FallbackByKind map[provider.Kind]*string
	// TencentV3Endpoint defaults to tencentv3.DefaultEndpoint.
	TencentV3Endpoint string
	// AliyunAccessKeyID is the Alibaba Cloud AccessKey ID.
	AliyunAccessKeyID string
	// AliyunAccessKeySecret is the Alibaba Cloud AccessKey secret.
	AliyunAccessKeySecret Secret
	// AliyunEndpoint defaults to aliyun.DefaultEndpoint.
	AliyunEndpoint string
	// AliyunMethod is GET or POST. Defaults to POST.
	AliyunMethod string
	// Quotas overrides the documented quotas: "provider/Action=N" pairs
	// separated by commas. Defaults to none.
	Quotas string
	// FailoverFailures is how many transient failures in a row open a
	// provider's circuit. Defaults to 5.
	FailoverFailures int
	// FailoverOpenFor is how long an open circuit waits before a trial
	// call. Defaults to 10s.
	FailoverOpenFor time.Duration
}

// BindProviders registers the provider settings on fs, the Tencent ones of
// BindTencent included.
func BindProviders(fs *pflag.FlagSet, getenv Getenv) (*Providers, func() error) {
	tc, terr := BindTencent(fs, getenv)
	c := &Providers{
		Tencent:        tc,
		PrimaryByKind:  make(map[provider.Kind]*string),
		FallbackByKind: make(map[provider.Kind]*string),
	}
	b := &binder{fs: fs, getenv: getenv}
	names := strings.Join(ProviderNames, ", ")
	b.str(&c.Primary, "provider", tencentv2.Name, "provider of every kind: "+names)
	b.str(&c.Fallback, "provider-fallback", "", "provider that takes the jobs while the primary's circuit is open (empty: none)")
	for _, k := range provider.Kinds {
		p, f := new(string), new(string)
		b.str(p, "provider-"+string(k), "", "provider of "+string(k)+" jobs (empty: --provider)")
		b.str(f, "provider-fallback-"+string(k), "", "fallback provider of "+string(k)+" jobs (empty: --provider-fallback; none: no fallback)")
		c.PrimaryByKind[k], c.FallbackByKind[k] = p, f
	}
	b.str(&c.TencentV3Endpoint, "tencent-v3-endpoint", tencentv3.DefaultEndpoint, "Tencent Cloud API 3.0 faceid endpoint URL")
	b.str(&c.AliyunAccessKeyID, "aliyun-access-key-id", "", "Alibaba Cloud AccessKey ID")
	b.secret(&c.AliyunAccessKeySecret, "aliyun-access-key-secret", "the Alibaba Cloud AccessKey secret")
	b.str(&c.AliyunEndpoint, "aliyun-endpoint", aliyun.DefaultEndpoint, "Alibaba Cloud cloudauth endpoint URL")
	b.str(&c.AliyunMethod, "aliyun-method", "POST", "HTTP method of Alibaba Cloud calls: GET or POST")
	b.str(&c.Quotas, "quota", "", "quota overrides in calls/s across all workers, e.g. tencent-v3/IdCardVerification=50,aliyun/BankMetaVerify=30 (default: each action's documented quota)")
	b.integer(&c.FailoverFailures, "failover-failures", 5, "transient failures in a row that open a provider's circuit and send its jobs to the fallback")
	b.duration(&c.FailoverOpenFor, "failover-open-for", 10*time.Second, "how long an open circuit waits before a trial call to the primary")
	return c, func() error {
		if err := terr(); err != nil {
			return err
		}
		return b.err()
	}
}

// Routes returns the provider names of each kind: primary and secondary
// ("" for none), after checking every name.
func (c *Providers) Routes() (map[provider.Kind][2]string, error) {
	routes := make(map[provider.Kind][2]string, len(provider.Kinds))
	for _, k := range provider.Kinds {
		primary, fallback := c.Primary, c.Fallback
		if p := c.PrimaryByKind[k]; p != nil && *p != "" {
			primary = *p
		}
		if f := c.FallbackByKind[k]; f != nil && *f != "" {
			fallback = *f
		}
		if fallback == "none" || fallback == primary {
			fallback = ""
		}
		for _, name := range []string{primary, fallback} {
			if name != "" && !knownProvider(name) {
				return nil, fmt.Errorf("config: provider %q of %s jobs: want one of %s", name, k, strings.Join(ProviderNames, ", "))
			}
		}
		if primary == "" {
			return nil, fmt.Errorf("config: REALNAME_PROVIDER (--provider) is required")
		}
		routes[k] = [2]string{primary, fallback}
	}
	return routes, nil
}

func knownProvider(name string) bool {
	for _, n := range ProviderNames {
		if n == name {
			return true
		}
	}
	return false
}

// RouterConfig returns the router configuration with a client for every
// provider the routes name; a provider whose credentials are missing is an
// error that names the setting.
func (c *Providers) RouterConfig() (provider.RouterConfig, error) {
	routes, err := c.Routes()
	if err != nil {
		return provider.RouterConfig{}, err
	}
	built := make(map[string]provider.Provider)
	get := func(name string) (provider.Provider, error) {
		if name == "" {
			return nil, nil
		}
		if p, ok := built[name]; ok {
			return p, nil
		}
		p, err := c.client(name)
		if err != nil {
			return nil, err
		}
		built[name] = p
		return p, nil
	}
	rc := provider.RouterConfig{
		Routes:   make(map[provider.Kind]provider.Route, len(routes)),
		Failures: uint32(max(0, c.FailoverFailures)),
		OpenFor:  c.FailoverOpenFor,
	}
	for k, names := range routes {
		primary, err := get(names[0])
		if err != nil {
			return rc, err
		}
		secondary, err := get(names[1])
		if err != nil {
			return rc, err
		}
		rc.Routes[k] = provider.Route{Primary: primary, Secondary: secondary}
	}
	return rc, nil
}

// client returns the named provider's client.
func (c *Providers) client(name string) (provider.Provider, error) {
	switch name {
	case tencentv2.Name:
		cl, err := c.Tencent.Client()
		if err != nil {
			return nil, err
		}
		return tencentv2.Wrap(cl), nil
	case tencentv3.Name:
		id, key, err := c.Tencent.credentials()
		if err != nil {
			return nil, err
		}
		return tencentv3.New(tencentv3.Config{SecretID: id, SecretKey: key, Endpoint: c.TencentV3Endpoint, Timeout: c.Tencent.Timeout})
	case aliyun.Name:
		if c.AliyunAccessKeyID == "" {
			return nil, fmt.Errorf("config: REALNAME_ALIYUN_ACCESS_KEY_ID (--aliyun-access-key-id) is required for provider aliyun")
		}
		secret, err := c.AliyunAccessKeySecret.Required()
		if err != nil {
			return nil, err
		}
		return aliyun.New(aliyun.Config{AccessKeyID: c.AliyunAccessKeyID, AccessKeySecret: secret, Endpoint: c.AliyunEndpoint,
			Method: c.AliyunMethod, Timeout: c.Tencent.Timeout})
	}
	return nil, fmt.Errorf("config: unknown provider %q", name)
}

// QuotaOverrides parses Quotas into the worker's form, keyed
// "provider/Action".
func (c *Providers) QuotaOverrides() (map[string]int, error) {
	out := make(map[string]int)
	for _, part := range strings.FieldsFunc(c.Quotas, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		key, val, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n <= 0 || !strings.Contains(key, "/") {
			return nil, fmt.Errorf("config: REALNAME_QUOTA: %q: want provider/Action=N with N > 0", part)
		}
		out[key] = n
	}
	return out, nil
}
