package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/realname-io/realname/internal/provider/aliyun"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/provider/tencentv3"
	"github.com/spf13/cobra"
)

// The signature protocols `realname sign` computes.
const (
	protocolV2        = "v2"
	protocolTC3       = "tc3"
	protocolAliyunRPC = "aliyun-rpc"
)

func newSignCmd() *cobra.Command {
	var (
		protocol                 string
		secretKey, secretKeyFile string
		method, host, path, sm   string
		// TC3
		secretID, service, action, payloadFile, signedHeaders, contentType string
		timestamp                                                          int64
	)
	cmd := &cobra.Command{
		Use:   "sign [flags] [key=value ...]",
		Short: "Print a request's canonical forms and signature, to debug a signature failure",
		Long: `Sign computes the signature of a provider request, so that an operator can
compare it with what a failing request sent (v2 4100, AuthFailure.SignatureFailure,
SignatureDoesNotMatch). The signature alone is always on the last line.

--protocol v2 (Tencent's v2 gateway, the default): the parameters are key=value
arguments (all of them, Nonce and Timestamp included; Signature is ignored); it
prints the string to sign, then the base64 signature.

--protocol tc3 (Tencent Cloud API 3.0, TC3-HMAC-SHA256): the body is read from
--payload-file; it prints the canonical request, the string to sign and the
Authorization header, then the hex signature.

--protocol aliyun-rpc (Alibaba Cloud RPC, signature 1.0, HMAC-SHA1): every
parameter is a key=value argument (AccessKeyId, SignatureNonce, Timestamp and
the rest; Signature is ignored); it prints the string to sign, then the base64
signature.

The secret key comes from --secret-key, --secret-key-file or the environment
variable REALNAME_SECRET_KEY; prefer the file or the environment, which stay out
of the shell history.`,
		Example: `  realname sign --secret-key-file key.txt --method GET --host cvm.api.qcloud.com \
    Action=DescribeInstances Nonce=11886 Region=gz SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA \
    Timestamp=1465185768 instanceIds_0=ins-09dx96dg limit=20 offset=0
  realname sign --protocol tc3 --secret-id AKID... --secret-key-file key.txt --service faceid \
    --host faceid.tencentcloudapi.com --action IdCardVerification --timestamp 1551113065 --payload-file body.json
  realname sign --protocol aliyun-rpc --method GET --secret-key-file key.txt AccessKeyId=testid \
    Action=DescribeRegions Format=XML SignatureMethod=HMAC-SHA1 SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf \
    SignatureVersion=1.0 Timestamp=2016-02-23T12:46:24Z Version=2014-05-26`,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := secretFrom(secretKey, secretKeyFile, "REALNAME_SECRET_KEY", "--secret-key")
			if err != nil {
				return err
			}
			m := strings.ToUpper(method)
			if m != "GET" && m != "POST" {
				return fmt.Errorf("--method %q: want GET or POST", method)
			}
			out := cmd.OutOrStdout()
			switch protocol {
			case protocolTC3:
				if len(args) > 0 {
					return fmt.Errorf("--protocol tc3 takes no key=value arguments: the body comes from --payload-file")
				}
				return signTC3(out, tc3Input{
					secretID: secretID, secretKey: key, service: service, host: host, action: action,
					timestamp: timestamp, payloadFile: payloadFile, signedHeaders: signedHeaders, contentType: contentType,
					method: m, timestampSet: cmd.Flags().Changed("timestamp"),
				})
			case protocolAliyunRPC:
				params, err := keyValues(args)
				if err != nil {
					return err
				}
				src := aliyun.StringToSign(m, params)
				_, err = fmt.Fprintf(out, "%s\n%s\n", src, aliyun.Sign(key, src))
				return err
			case protocolV2:
			default:
				return fmt.Errorf("--protocol %q: want v2, tc3 or aliyun-rpc", protocol)
			}
			if host == "" {
				return fmt.Errorf("--host is required")
			}
			params, err := keyValues(args)
			if err != nil {
				return err
			}
			sigMethod, err := tencentv2.ParseSignatureMethod(sm)
			if err != nil {
				return err
			}
			// The signed string must carry SignatureMethod exactly when the
			// request does: add it for HmacSHA256, and refuse a conflict.
			if given, ok := params[tencentv2.ParamSignatureMethod]; ok {
				gm, err := tencentv2.ParseSignatureMethod(given)
				if err != nil {
					return err
				}
				if cmd.Flags().Changed("signature-method") && gm != sigMethod {
					return fmt.Errorf("SignatureMethod=%s contradicts --signature-method %s", given, sm)
				}
				sigMethod = gm
			} else if sigMethod == tencentv2.HmacSHA256 {
				params[tencentv2.ParamSignatureMethod] = string(sigMethod)
			}
			src := tencentv2.StringToSign(m, host, path, params)
			_, err = fmt.Fprintf(out, "%s\n%s\n", src, tencentv2.Sign(key, sigMethod, src))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&protocol, "protocol", protocolV2, "signature protocol: v2, tc3 or aliyun-rpc")
	f.StringVar(&secretKey, "secret-key", "", "the SecretKey or AccessKey secret (visible in the process list: prefer --secret-key-file or REALNAME_SECRET_KEY)")
	f.StringVar(&secretKeyFile, "secret-key-file", "", "read the secret key from this file")
	f.StringVar(&method, "method", "POST", "HTTP method: GET or POST")
	f.StringVar(&host, "host", "", "request host, e.g. csec.api.qcloud.com or faceid.tencentcloudapi.com (required for v2 and tc3)")
	f.StringVar(&path, "path", tencentv2.DefaultPath, "request path (v2)")
	f.StringVar(&sm, "signature-method", "HmacSHA1", "HmacSHA1 or HmacSHA256 (v2)")
	f.StringVar(&secretID, "secret-id", "", "the SecretId, for the Authorization header (tc3)")
	f.StringVar(&service, "service", tencentv3.Service, "the service, e.g. faceid or cvm (tc3)")
	f.StringVar(&action, "action", "", "the X-TC-Action, signed when --signed-headers lists x-tc-action (tc3)")
	f.Int64Var(&timestamp, "timestamp", 0, "the X-TC-Timestamp in Unix seconds (tc3, required)")
	f.StringVar(&payloadFile, "payload-file", "", "file holding the exact request body (tc3, required)")
	f.StringVar(&signedHeaders, "signed-headers", "content-type,host", "headers to sign, comma-separated (tc3)")
	f.StringVar(&contentType, "content-type", tencentv3.ContentType, "the Content-Type header (tc3)")
	return cmd
}

// keyValues parses key=value arguments.
func keyValues(args []string) (map[string]string, error) {
	params := make(map[string]string, len(args)+1)
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q: want key=value", a)
		}
		params[k] = v
	}
	return params, nil
}

// tc3Input is what `realname sign --protocol tc3` signs.
type tc3Input struct {
	secretID, secretKey, service, host, action string
	payloadFile, signedHeaders, contentType    string
	method                                     string
	timestamp                                  int64
	timestampSet                               bool
}

// signTC3 prints the canonical request, the string to sign, the
// Authorization header and, on the last line, the signature.
func signTC3(out io.Writer, in tc3Input) error {
	switch {
	case in.host == "":
		return fmt.Errorf("--host is required")
	case !in.timestampSet:
		return fmt.Errorf("--timestamp is required")
	case in.payloadFile == "":
		return fmt.Errorf("--payload-file is required")
	}
	payload, err := os.ReadFile(in.payloadFile)
	if err != nil {
		return fmt.Errorf("--payload-file: %w", err)
	}
	values := map[string]string{"content-type": in.contentType, "host": in.host, "x-tc-action": in.action}
	headers := map[string]string{}
	for _, h := range strings.Split(in.signedHeaders, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		v, ok := values[h]
		if !ok {
			return fmt.Errorf("--signed-headers: %q: want content-type, host or x-tc-action", h)
		}
		if v == "" {
			return fmt.Errorf("--signed-headers lists %s: set --action", h)
		}
		headers[h] = v
	}
	query := ""
	canonical, signed := tencentv3.CanonicalRequest(in.method, "/", query, headers, payload)
	sts := tencentv3.StringToSign(in.timestamp, in.service, canonical)
	sig := tencentv3.Signature(in.secretKey, in.timestamp, in.service, sts)
	_, err = fmt.Fprintf(out, "# canonical request\n%s\n# string to sign\n%s\n# authorization\n%s\n%s\n",
		canonical, sts, tencentv3.Authorization(cmp.Or(in.secretID, "SECRET_ID"), in.timestamp, in.service, signed, sig), sig)
	return err
}

// secretFrom returns a secret given by flag value, by file or by the
// environment variable env, in that order of precedence. The error names the
// flag, never the secret.
func secretFrom(value, file, env, flag string) (string, error) {
	if value != "" {
		return value, nil
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s-file: %w", flag, err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%s-file %s is empty", flag, file)
	}
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s, %s-file or %s is required", flag, flag, env)
}
