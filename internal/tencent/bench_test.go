package tencent_test

import (
	"context"
	"testing"

	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/tencent"
)

func BenchmarkSign(b *testing.B) {
	params := map[string]string{
		"Action": "BspBankCardAuth4", "Nonce": "1189532543", "Region": "all", "SecretId": "AKIDmQtAxYTAB2iBS8s2DCzazCD2g7OUq4Zw",
		"Timestamp": "1546572577", "bankCardNumber": "6222021234567890128", "idNumber": "440822197010040021",
		"name": "卢洁", "orderNo": "1231231", "phoneNumber": "13812345678",
	}
	for b.Loop() {
		tencent.Sign("key", tencent.HmacSHA1, tencent.StringToSign("POST", "csec.api.qcloud.com", tencent.DefaultPath, params))
	}
}

// BenchmarkVerifySandbox measures one signed call over loopback HTTP to the
// sandbox and its signature check: the client's own cost per verification.
func BenchmarkVerifySandbox(b *testing.B) {
	bd := setup(b, 64, sandbox.Faults{})
	c := bd.client(b, tencent.Config{})
	reqs := make([]tencent.Request, len(bd.entries))
	for i, e := range bd.entries {
		reqs[i] = request(b, tencent.ActionBankCardAuth4, e, "")
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
