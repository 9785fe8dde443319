package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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

// TestSignTC3ReproducesSpecVectors: both TC3 vectors of
// spec/tencent-v3-faceid.md, the signature alone on the last line.
func TestSignTC3ReproducesSpecVectors(t *testing.T) {
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"sign", "--protocol", "tc3", "--secret-id", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "--service", "cvm",
		"--host", "cvm.tencentcloudapi.com", "--action", "DescribeInstances", "--timestamp", "1551113065", "--payload-file", body}
	cases := []struct {
		key, headers, requestHash, signature string
	}{
		{"Gu5t9xGARNpq86cd98joQYCN3*******", "content-type,host",
			"5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031", "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"},
		{strings.Repeat("*", 32), "content-type,host,x-tc-action",
			"7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84", "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"},
	}
	for _, tc := range cases {
		out, err := runCmd(t, append(base, "--secret-key", tc.key, "--signed-headers", tc.headers)...)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if last := lines[len(lines)-1]; last != tc.signature {
			t.Errorf("last line %q, want the signature %s\n%s", last, tc.signature, out)
		}
		if !strings.Contains(out, "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064\n") ||
			!strings.Contains(out, "2019-02-25/cvm/tc3_request\n"+tc.requestHash+"\n") {
			t.Errorf("canonical forms missing the body hash or the canonical request's hash:\n%s", out)
		}
	}
}

// TestSignAliyunRPCReproducesSpecVector: the vector of
// spec/aliyun-cloudauth.md.
func TestSignAliyunRPCReproducesSpecVector(t *testing.T) {
	out, err := runCmd(t, "sign", "--protocol", "aliyun-rpc", "--method", "GET", "--secret-key", "testsecret",
		"AccessKeyId=testid", "Action=DescribeRegions", "Format=XML", "SignatureMethod=HMAC-SHA1",
		"SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion=1.0", "Timestamp=2016-02-23T12:46:24Z", "Version=2014-05-26")
	if err != nil {
		t.Fatal(err)
	}
	want := "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26\nOLeaidS1JvxuMvnyHOwuJ+uX5qY=\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
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
		{"sign", "--secret-key", "k", "--protocol", "v4", "a=b"},                                      // unknown protocol
		{"sign", "--secret-key", "k", "--protocol", "tc3", "--host", "h", "--timestamp", "1"},         // no payload
		{"sign", "--secret-key", "k", "--protocol", "tc3", "--payload-file", "x", "--timestamp", "1"}, // no host
		{"sign", "--secret-key", "k", "--protocol", "tc3", "--host", "h", "--payload-file", "x"},      // no timestamp
		{"sign", "--secret-key", "k", "--protocol", "aliyun-rpc", "novalue"},
	}
	for _, args := range cases {
		if _, err := runCmd(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		} else if strings.Contains(err.Error(), "--secret-key k") {
			t.Errorf("%v: error reveals the key: %v", args, err)
		}
	}
}
