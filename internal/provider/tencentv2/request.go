package tencentv2

import "github.com/realname-io/realname/internal/identity"

// The four 实名认证 actions. Note the irregular names, as the gateway spells
// them: BspBankCard3Auth but BspBankCardAuth4.
const (
	ActionIDCardAuth    = "BspIdCardAuth"
	ActionMobileAuth3   = "BspMobileAuth3"
	ActionBankCard3Auth = "BspBankCard3Auth"
	ActionBankCardAuth4 = "BspBankCardAuth4"
)

// Common parameter names.
const (
	ParamAction          = "Action"
	ParamRegion          = "Region"
	ParamTimestamp       = "Timestamp"
	ParamNonce           = "Nonce"
	ParamSecretID        = "SecretId"
	ParamSignature       = "Signature"
	ParamSignatureMethod = "SignatureMethod"
)

// Request is one of the four typed verification requests. Its fields are the
// validated types of package identity, so a request that type-checks has
// passed validation.
type Request interface {
	// Action returns the API action name.
	Action() string
	// Order returns the caller's order number.
	Order() identity.OrderNo
	// businessParams returns the action's parameters with raw values.
	businessParams() map[string]string
}

// IDCardAuthRequest asks whether a name and an ID number belong together
// (BspIdCardAuth, 身份安全验证).
type IDCardAuthRequest struct {
	OrderNo  identity.OrderNo
	Name     identity.Name
	IDNumber identity.IDNumber
}

// MobileAuth3Request asks whether a name, an ID number and a mobile number
// belong together (BspMobileAuth3, 手机安全验证).
type MobileAuth3Request struct {
	OrderNo  identity.OrderNo
	Name     identity.Name
	IDNumber identity.IDNumber
	Phone    identity.Phone
}

// BankCard3AuthRequest asks whether a name, an ID number and a bank card
// belong together (BspBankCard3Auth, 支付安全验证 中级).
type BankCard3AuthRequest struct {
	OrderNo  identity.OrderNo
	Name     identity.Name
	IDNumber identity.IDNumber
	BankCard identity.BankCard
}

// BankCardAuth4Request asks whether a name, an ID number, a bank card and the
// card's reserved mobile number belong together (BspBankCardAuth4, 支付安全验证
// 高级).
type BankCardAuth4Request struct {
	OrderNo  identity.OrderNo
	Name     identity.Name
	IDNumber identity.IDNumber
	BankCard identity.BankCard
	Phone    identity.Phone
}

// Action implements Request.
func (IDCardAuthRequest) Action() string { return ActionIDCardAuth }

// Action implements Request.
func (MobileAuth3Request) Action() string { return ActionMobileAuth3 }

// Action implements Request.
func (BankCard3AuthRequest) Action() string { return ActionBankCard3Auth }

// Action implements Request.
func (BankCardAuth4Request) Action() string { return ActionBankCardAuth4 }

// Order implements Request.
func (r IDCardAuthRequest) Order() identity.OrderNo { return r.OrderNo }

// Order implements Request.
func (r MobileAuth3Request) Order() identity.OrderNo { return r.OrderNo }

// Order implements Request.
func (r BankCard3AuthRequest) Order() identity.OrderNo { return r.OrderNo }

// Order implements Request.
func (r BankCardAuth4Request) Order() identity.OrderNo { return r.OrderNo }

func (r IDCardAuthRequest) businessParams() map[string]string {
	return map[string]string{
		identity.FieldOrderNo:  string(r.OrderNo),
		identity.FieldName:     r.Name.Reveal(),
		identity.FieldIDNumber: r.IDNumber.Reveal(),
	}
}

func (r MobileAuth3Request) businessParams() map[string]string {
	return map[string]string{
		identity.FieldOrderNo:  string(r.OrderNo),
		identity.FieldName:     r.Name.Reveal(),
		identity.FieldIDNumber: r.IDNumber.Reveal(),
		identity.FieldPhone:    r.Phone.Reveal(),
	}
}

func (r BankCard3AuthRequest) businessParams() map[string]string {
	return map[string]string{
		identity.FieldOrderNo:  string(r.OrderNo),
		identity.FieldName:     r.Name.Reveal(),
		identity.FieldIDNumber: r.IDNumber.Reveal(),
		identity.FieldBankCard: r.BankCard.Reveal(),
	}
}

func (r BankCardAuth4Request) businessParams() map[string]string {
	return map[string]string{
		identity.FieldOrderNo:  string(r.OrderNo),
		identity.FieldName:     r.Name.Reveal(),
		identity.FieldIDNumber: r.IDNumber.Reveal(),
		identity.FieldBankCard: r.BankCard.Reveal(),
		identity.FieldPhone:    r.Phone.Reveal(),
	}
}
