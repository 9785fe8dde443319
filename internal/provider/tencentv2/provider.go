package tencentv2

import (
	"context"
	"errors"
	"strconv"

	"github.com/realname-io/realname/internal/provider"
)

// Name is the provider name of the v2 gateway in results, events, metrics
// and configuration.
const Name = "tencent-v2"

// Provider is the v2 gateway behind provider.Provider. It is safe for
// concurrent use.
type Provider struct {
	c *Client
}

var _ provider.Provider = (*Provider)(nil)

// NewProvider returns a Provider calling the gateway with a Client for cfg.
func NewProvider(cfg Config) (*Provider, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Provider{c: c}, nil
}

// Wrap returns the Provider that calls through c.
func Wrap(c *Client) *Provider { return &Provider{c: c} }

// Client returns the underlying client.
func (p *Provider) Client() *Client { return p.c }

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// Action implements provider.Provider.
func (p *Provider) Action(kind provider.Kind) string {
	return requestOf(provider.Request{Kind: kind}).Action()
}

// Quota implements provider.Provider: the v2 guide documents no quota, so
// the configured rate limit applies.
func (p *Provider) Quota(provider.Kind) int { return 0 }

// Verify implements provider.Provider. Every answer with a bspFivBody is
// billed; gateway errors are not; a request sent without an answer may be.
func (p *Provider) Verify(ctx context.Context, req provider.Request) (*provider.Answer, error) {
	r := requestOf(req)
	res, err := p.c.Verify(ctx, r)
	if err != nil {
		return nil, asProviderError(r.Action(), err)
	}
	return &provider.Answer{
		Provider: Name, Action: res.Action, Class: res.Class, Code: res.AuthCode, Message: res.Message,
		Billing: provider.Billed, Attempts: res.Attempts,
	}, nil
}

// asProviderError wraps an error of Client.Verify with its class, code,
// hint and billing.
func asProviderError(action string, err error) error {
	pe := &provider.Error{Provider: Name, Action: action, Class: ClassOf(err), Err: err}
	var apiErr *APIError
	var tErr *TransportError
	switch {
	case errors.As(err, &apiErr):
		pe.Code, pe.Message, pe.Hint = strconv.Itoa(apiErr.Code), apiErr.Message, operatorHints[apiErr.Code]
		if apiErr.Code == 0 {
			// An unknown authCode came with a bspFivBody: billed.
			pe.Code, pe.Billing = apiErr.AuthCode, provider.Billed
		}
	case errors.As(err, &tErr):
		if tErr.StatusCode != 0 && tErr.StatusCode != 200 {
			pe.Code = "http " + strconv.Itoa(tErr.StatusCode)
		}
		if tErr.PossiblyBilled {
			pe.Billing = provider.PossiblyBilled
		}
	}
	return pe
}

// requestOf returns the v2 request that runs req.
func requestOf(req provider.Request) Request {
	switch req.Kind {
	case provider.KindMobile3:
		return MobileAuth3Request{OrderNo: req.OrderNo, Name: req.Name, IDNumber: req.IDNumber, Phone: req.Phone}
	case provider.KindBankCard3:
		return BankCard3AuthRequest{OrderNo: req.OrderNo, Name: req.Name, IDNumber: req.IDNumber, BankCard: req.BankCard}
	case provider.KindBankCard4:
		return BankCardAuth4Request{OrderNo: req.OrderNo, Name: req.Name, IDNumber: req.IDNumber, BankCard: req.BankCard, Phone: req.Phone}
	default:
		return IDCardAuthRequest{OrderNo: req.OrderNo, Name: req.Name, IDNumber: req.IDNumber}
	}
}
