package providertest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/aliyun"
	"github.com/realname-io/realname/internal/provider/providertest"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/provider/tencentv3"
)

func TestTencentV2(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Config{
		Name: tencentv2.Name,
		Path: tencentv2.DefaultPath,
		New: func(t testing.TB, endpoint string, o providertest.ClientOpts) provider.Provider {
			p, err := tencentv2.NewProvider(tencentv2.Config{
				SecretID: o.SecretID, SecretKey: o.SecretKey, Endpoint: endpoint, Now: o.Now, Timeout: o.Timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		// The gateway allows 2h either way, and calls a stale Timestamp a
		// replay (4500), which the client re-signs once, with the same
		// clock.
		ClockOffset: 3 * time.Hour,
		ClockClass:  provider.ClassReplay,
	})
}

func TestTencentV3(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Config{
		Name: tencentv3.Name,
		Path: "/",
		New: func(t testing.TB, endpoint string, o providertest.ClientOpts) provider.Provider {
			c, err := tencentv3.New(tencentv3.Config{
				SecretID: o.SecretID, SecretKey: o.SecretKey, Endpoint: endpoint, Now: o.Now, Timeout: o.Timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		// AuthFailure.SignatureExpire past 5 minutes, with the Date header
		// to measure by.
		ClockClass: provider.ClassCredentials,
		ClockSkew:  true,
	})
}

func TestAliyunPOST(t *testing.T) {
	t.Parallel()
	providertest.Run(t, aliyunConfig(http.MethodPost))
}

func TestAliyunGET(t *testing.T) {
	t.Parallel()
	providertest.Run(t, aliyunConfig(http.MethodGet))
}

func aliyunConfig(method string) providertest.Config {
	return providertest.Config{
		Name: aliyun.Name,
		Path: "/",
		New: func(t testing.TB, endpoint string, o providertest.ClientOpts) provider.Provider {
			c, err := aliyun.New(aliyun.Config{
				AccessKeyID: o.SecretID, AccessKeySecret: o.SecretKey, Endpoint: endpoint, Method: method, Now: o.Now, Timeout: o.Timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		// InvalidTimeStamp.Expired past 15 minutes, with the Date header
		// to measure by.
		ClockClass: provider.ClassCredentials,
		ClockSkew:  true,
	}
}
