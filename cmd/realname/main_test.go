package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

// TestSignReproducesSpecVector: `realname sign` must print Tencent's classic
// v2 example, the vector spec/tencent-v2.md says reproduces.
func TestSignReproducesSpecVector(t *testing.T) {
	args := []string{"sign", "--secret-key", "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA", "--method", "GET", "--host", "cvm.api.qcloud.com",
		"Action=DescribeInstances", "Nonce=11886", "Region=gz", "SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA",
		"Timestamp=1465185768", "instanceIds_0=ins-09dx96dg", "limit=20", "offset=0"}
	out, err := runCmd(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	want := "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&Nonce=11886&Region=gz&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768&instanceIds.0=ins-09dx96dg&limit=20&offset=0\nNSI3UqqD99b/UJb4tbG/xZpRW64=\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}

	// HmacSHA256 adds SignatureMethod to the signed string.
	out, err = runCmd(t, append(args, "--signature-method", "HmacSHA256")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "&SignatureMethod=HmacSHA256&") || !strings.HasSuffix(out, "\nPSWUwVv4TfW2sQP1FT9KbbLjIZ9bmK8f1cL6fbpf3KI=\n") {
		t.Fatalf("HmacSHA256 output:\n%s", out)
	}
}

func TestSignErrors(t *testing.T) {
	t.Setenv("REALNAME_SECRET_KEY", "")
	cases := [][]string{
		{"sign", "--host", "h", "a=b"},                                  // no key
		{"sign", "--secret-key", "k", "a=b"},                            // no host
		{"sign", "--secret-key", "k", "--host", "h", "--method", "PUT"}, // bad method
		{"sign", "--secret-key", "k", "--host", "h", "novalue"},         // not key=value
		{"sign", "--secret-key", "k", "--host", "h", "--signature-method", "MD5"},
	}
	for _, args := range cases {
		if _, err := runCmd(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		} else if strings.Contains(err.Error(), "--secret-key k") {
			t.Errorf("%v: error reveals the key: %v", args, err)
		}
	}
}
