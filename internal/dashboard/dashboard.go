// Package dashboard builds the queue dashboard: asynqmon, served by our own
// binary under /monitoring/, with every task payload shown masked. A
// verification's payload holds a person's name, ID number, phone and card;
// the dashboard decodes it and shows the masked forms, and shows nothing at
// all of a payload it cannot decode.
package dashboard

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/realname-io/realname/internal/task"
)

// RootPath is where the dashboard is mounted.
const RootPath = "/monitoring"

// Handlers returns the dashboard twice: read-only, for keys with the read
// scope, and with its actions (run, delete, pause, ...), for admin keys.
func Handlers(redis asynq.RedisConnOpt) (readOnly, admin *asynqmon.HTTPHandler) {
	opts := asynqmon.Options{
		RootPath:         RootPath,
		RedisConnOpt:     redis,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(FormatPayload),
		ResultFormatter:  asynqmon.ResultFormatterFunc(FormatResult),
		ReadOnly:         true,
	}
	readOnly = asynqmon.New(opts)
	opts.ReadOnly = false
	admin = asynqmon.New(opts)
	return readOnly, admin
}

// maskedVerification is a verification payload as the dashboard shows it:
// the identity types marshal themselves masked.
type maskedVerification struct {
	Kind        task.Kind `json:"kind"`
	OrderNo     string    `json:"orderNo"`
	Name        string    `json:"name"`
	IDNumber    string    `json:"idNumber"`
	Phone       string    `json:"phoneNumber,omitempty"`
	BankCard    string    `json:"bankCardNumber,omitempty"`
	CallbackURL string    `json:"callbackUrl,omitempty"`
	Batch       string    `json:"batch,omitempty"`
	EnqueuedAt  string    `json:"enqueuedAt"`
	// Key names the key the personal data is sealed under.
	Key string `json:"sealedWithKey,omitempty"`
}

// FormatPayload shows a task payload with personal data masked.
func FormatPayload(taskType string, payload []byte) string {
	if taskType == task.TypeWebhook {
		w, err := task.DecodeWebhook(payload)
		if err != nil {
			return hidden(payload)
		}
		// The event body holds no personal data; the URL's query may hold
		// the receiver's token.
		b, _ := json.MarshalIndent(map[string]any{"id": w.ID, "url": redactURL(w.URL), "body": w.Body}, "", "  ")
		return string(b)
	}
	v, err := task.DecodeMasked(payload)
	if err != nil {
		return hidden(payload)
	}
	// The masked forms rest beside the ciphertext: the dashboard needs no
	// key, and shows which key sealed the rest.
	m := maskedVerification{Kind: v.Kind, OrderNo: v.OrderNo, Name: v.Name, IDNumber: v.IDNumber, Phone: v.Phone, BankCard: v.BankCard,
		CallbackURL: redactURL(v.CallbackURL), Batch: v.Batch, EnqueuedAt: v.EnqueuedAt.UTC().Format("2006-01-02T15:04:05Z"), Key: v.KeyID}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return hidden(payload)
	}
	return string(b)
}

// FormatResult shows a task's result; our tasks write none, and whatever
// is there is not shown.
func FormatResult(_ string, result []byte) string {
	if len(result) == 0 {
		return ""
	}
	return hidden(result)
}

func hidden(b []byte) string { return fmt.Sprintf("(%d bytes, not shown)", len(b)) }

func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.User = nil
	return u.String()
}
