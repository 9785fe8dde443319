package tencentv2_test

import (
	"context"
	"testing"

	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/sandbox"
)

func BenchmarkSign(b *testing.B) {
	params := map[string]string{
		"Action": "BspBankCardAuth4", "Nonce": "1189532543", "Region": "all", "SecretId": "AKIDmQtAxYTAB2iBS8s2DCzazCD2g7OUq4Zw",
		"Timestamp": "1546572577", "bankCardNumber": "6222021234567890128", "idNumber": "440822197010040021",
		"name": "卢洁", "orderNo": "1231231", "phoneNumber": "13812345678",
	}
	for b.Loop() {
		tencentv2.Sign("key", tencentv2.HmacSHA1, tencentv2.StringToSign("POST", "csec.api.qcloud.com", tencentv2.DefaultPath, params))
	}
}

// BenchmarkVerifySandbox measures one signed call over loopback HTTP to the
// sandbox and its signature check: the client's own cost per verification.
func BenchmarkVerifySandbox(b *testing.B) {
	bd := setup(b, 64, sandbox.Faults{})
	c := bd.client(b, tencentv2.Config{})
	reqs := make([]tencentv2.Request, len(bd.entries))
	for i, e := range bd.entries {
		reqs[i] = request(b, tencentv2.ActionBankCardAuth4, e, "")
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Verify(context.Background(), reqs[i%len(reqs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
