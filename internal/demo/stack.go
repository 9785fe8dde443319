// Package demo runs the whole pipeline on one machine: the sandbox provider,
// a worker, a webhook receiver that verifies every signature, and a
// producer that enqueues generated identities; then it checks every answer
// against the sandbox's truth and prints a summary. `realname demo` runs it;
// the end-to-end tests build on the same pieces (Stack).
package demo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/realname-io/realname/internal/provider"

	"github.com/rs/zerolog"

	"github.com/realname-io/realname/internal/provider/aliyun"
	"github.com/realname-io/realname/internal/provider/tencentv2"
	"github.com/realname-io/realname/internal/provider/tencentv3"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/sandbox"
	"github.com/realname-io/realname/internal/webhook"
)

// Credentials the stack's sandbox accepts and its client signs with. They
// only ever reach a loopback sandbox.
const (
	SecretID  = "AKIDrealnameDemo0000000000000000000"
	SecretKey = "realname-demo-secret-key"
)

// Stack is a sandbox and a webhook receiver listening on loopback, and the
// generated identities the sandbox knows.
type Stack struct {
	// Entries are the generated identities, with their scripted answers.
	Entries []sample.Entry
	// Sandbox is the provider; its Stats are the meter of paid calls.
	Sandbox *sandbox.Server
	// SandboxURL is the v2 endpoint URL of the sandbox.
	SandboxURL string
	// BaseURL is the sandbox's root, where Tencent API 3.0 and Alibaba
	// Cloud are served.
	BaseURL string
	// Receiver stands in for the customer's backend.
	Receiver *webhook.Receiver
	// ReceiverURL is where webhooks go.
	ReceiverURL string
	// WebhookSecret signs webhooks (whsec_…).
	WebhookSecret string

	stops []func()
}

// StackConfig configures NewStack.
type StackConfig struct {
	// N is the number of identities. Defaults to 1000.
	N int
	// Seed makes the identities and the faults. Defaults to 1.
	Seed int64
	// Faults are the sandbox's injected faults of Tencent v2.
	Faults sandbox.Faults
	// TencentV3Faults and AliyunFaults are those of the other providers.
	TencentV3Faults, AliyunFaults sandbox.Faults
	// Quotas are the sandbox's per-action quotas. Defaults to none.
	Quotas sandbox.Quotas
	// Receiver sets the receiver's failure injection; its Verifier is
	// filled in.
	Receiver webhook.ReceiverConfig
	// Logger receives the sandbox's logs. Defaults to none.
	Logger zerolog.Logger
}

// NewStack starts a sandbox and a receiver on loopback ports. Close stops
// them.
func NewStack(cfg StackConfig) (*Stack, error) {
	if cfg.N <= 0 {
		cfg.N = 1000
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	s := &Stack{}
	var fixture bytes.Buffer
	for e := range sample.Generate(cfg.N, cfg.Seed) {
		s.Entries = append(s.Entries, e)
	}
	if err := sample.WriteFixture(&fixture, s.entrySeq); err != nil {
		return nil, err
	}
	fx, err := sandbox.LoadFixture(&fixture)
	if err != nil {
		return nil, err
	}
	for _, f := range []*sandbox.Faults{&cfg.Faults, &cfg.TencentV3Faults, &cfg.AliyunFaults} {
		f.Seed = cmp.Or(f.Seed, cfg.Seed)
	}
	s.Sandbox, err = sandbox.New(sandbox.Config{
		Credentials: map[string]string{SecretID: SecretKey}, Fixture: fx, Faults: cfg.Faults,
		TencentV3Faults: cfg.TencentV3Faults, AliyunFaults: cfg.AliyunFaults, Quotas: cfg.Quotas, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	addr, err := s.serve(s.Sandbox)
	if err != nil {
		return nil, err
	}
	s.BaseURL = "http://" + addr
	s.SandboxURL = s.BaseURL + tencentv2.DefaultPath

	if s.WebhookSecret, err = webhook.GenerateSecret(); err != nil {
		s.Close()
		return nil, err
	}
	secret, err := webhook.ParseSecret(s.WebhookSecret)
	if err != nil {
		s.Close()
		return nil, err
	}
	rcfg := cfg.Receiver
	if rcfg.Verifier, err = webhook.NewVerifier(secret); err != nil {
		s.Close()
		return nil, err
	}
	if s.Receiver, err = webhook.NewReceiver(rcfg); err != nil {
		s.Close()
		return nil, err
	}
	if addr, err = s.serve(s.Receiver); err != nil {
		s.Close()
		return nil, err
	}
	s.ReceiverURL = "http://" + addr + "/hooks/realname"
	return s, nil
}

func (s *Stack) entrySeq(yield func(sample.Entry) bool) {
	for _, e := range s.Entries {
		if !yield(e) {
			return
		}
	}
}

// serve serves h on a fresh loopback port until Close.
func (s *Stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("demo: serve:", err)
		}
	}()
	s.stops = append(s.stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String(), nil
}

// Close stops the servers.
func (s *Stack) Close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// Client returns the v2 provider, calling the sandbox.
func (s *Stack) Client(cfg tencentv2.Config) (*tencentv2.Provider, error) {
	cfg.SecretID, cfg.SecretKey, cfg.Endpoint = SecretID, SecretKey, s.SandboxURL
	return tencentv2.NewProvider(cfg)
}

// Provider returns the named provider's client, calling the sandbox with
// the stack's credentials; timeout bounds one HTTP attempt.
func (s *Stack) Provider(name string, timeout time.Duration) (provider.Provider, error) {
	switch name {
	case tencentv2.Name:
		return s.Client(tencentv2.Config{Timeout: timeout})
	case tencentv3.Name:
		return tencentv3.New(tencentv3.Config{SecretID: SecretID, SecretKey: SecretKey, Endpoint: s.BaseURL + "/", Timeout: timeout})
	case aliyun.Name:
		return aliyun.New(aliyun.Config{AccessKeyID: SecretID, AccessKeySecret: SecretKey, Endpoint: s.BaseURL + "/", Timeout: timeout})
	}
	return nil, fmt.Errorf("demo: unknown provider %q", name)
}

// KindOf returns the kind of verification the demo runs for entry i: the
// four kinds in turn.
func KindOf(i int) string {
	return [...]string{"idcard", "mobile3", "bankcard3", "bankcard4"}[i%4]
}

// actionOf maps a kind to its provider action.
var actionOf = map[string]string{
	"idcard":    tencentv2.ActionIDCardAuth,
	"mobile3":   tencentv2.ActionMobileAuth3,
	"bankcard3": tencentv2.ActionBankCard3Auth,
	"bankcard4": tencentv2.ActionBankCardAuth4,
}

// Truth returns the class the sandbox's fixture says a kind of
// verification of e must end with.
func Truth(e sample.Entry, kind string) provider.Class {
	return tencentv2.ClassifyAuthCode(e.AuthCodes[actionOf[kind]])
}

// LoopbackPolicy returns the webhook policy of the demo and the tests: it
// allowlists loopback, 127.0.0.0/8 and ::1, where the stack's receiver
// listens, and nothing else.
func LoopbackPolicy() webhook.URLPolicy {
	return webhook.URLPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

// LoopbackAllow is LoopbackPolicy as a REALNAME_WEBHOOK_ALLOW value, for the
// processes a test starts.
const LoopbackAllow = "127.0.0.0/8,::1"

// WebhookClient returns a delivery client that signs with the stack's
// webhook secret and may deliver to loopback (LoopbackPolicy), where the stack's
// receiver listens; the dial guard still refuses every other non-public
// address.
func (s *Stack) WebhookClient() (*webhook.Client, error) {
	secret, err := webhook.ParseSecret(s.WebhookSecret)
	if err != nil {
		return nil, err
	}
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	return webhook.NewClient(webhook.ClientConfig{Signer: signer, Policy: LoopbackPolicy()})
}
