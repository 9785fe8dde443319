package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/realname-io/realname/internal/tencent"
	"github.com/spf13/cobra"
)

func newSignCmd() *cobra.Command {
	var (
		secretKey, secretKeyFile string
		method, host, path, sm   string
	)
	cmd := &cobra.Command{
		Use:   "sign [flags] key=value ...",
		Short: "Print the v2 string to sign and its signature, to debug a 4100",
		Long: `Sign computes a Tencent Cloud API v2 signature from the parameters given as
key=value arguments (all of them, Nonce and Timestamp included; Signature is
ignored). It prints the string to sign on the first line and the base64
signature on the second, so that an operator can compare them with what a
failing request sent.

The secret key comes from --secret-key, --secret-key-file or the environment
variable REALNAME_SECRET_KEY; prefer the file or the environment, which stay out
of the shell history.`,
		Example: `  realname sign --secret-key-file key.txt --method GET --host cvm.api.qcloud.com \
    Action=DescribeInstances Nonce=11886 Region=gz SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA \
    Timestamp=1465185768 instanceIds_0=ins-09dx96dg limit=20 offset=0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := secretFrom(secretKey, secretKeyFile, "REALNAME_SECRET_KEY", "--secret-key")
			if err != nil {
				return err
			}
			m := strings.ToUpper(method)
			if m != "GET" && m != "POST" {
				return fmt.Errorf("--method %q: want GET or POST", method)
			}
			if host == "" {
				return fmt.Errorf("--host is required")
			}
			params := make(map[string]string, len(args)+1)
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("argument %q: want key=value", a)
				}
				params[k] = v
			}
			sigMethod, err := tencent.ParseSignatureMethod(sm)
			if err != nil {
				return err
			}
			// The signed string must carry SignatureMethod exactly when the
			// request does: add it for HmacSHA256, and refuse a conflict.
			if given, ok := params[tencent.ParamSignatureMethod]; ok {
				gm, err := tencent.ParseSignatureMethod(given)
				if err != nil {
					return err
				}
				if cmd.Flags().Changed("signature-method") && gm != sigMethod {
					return fmt.Errorf("SignatureMethod=%s contradicts --signature-method %s", given, sm)
				}
				sigMethod = gm
			} else if sigMethod == tencent.HmacSHA256 {
				params[tencent.ParamSignatureMethod] = string(sigMethod)
			}
			src := tencent.StringToSign(m, host, path, params)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", src, tencent.Sign(key, sigMethod, src))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&secretKey, "secret-key", "", "the SecretKey (visible in the process list: prefer --secret-key-file or REALNAME_SECRET_KEY)")
	f.StringVar(&secretKeyFile, "secret-key-file", "", "read the SecretKey from this file")
	f.StringVar(&method, "method", "POST", "HTTP method: GET or POST")
	f.StringVar(&host, "host", "", "request host, e.g. csec.api.qcloud.com (required)")
	f.StringVar(&path, "path", tencent.DefaultPath, "request path")
	f.StringVar(&sm, "signature-method", "HmacSHA1", "HmacSHA1 or HmacSHA256")
	return cmd
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
