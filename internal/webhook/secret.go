package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// secretPrefix marks a signing secret in the spec's serialised form, so
// that secret scanners and people recognise one in a config file.
const secretPrefix = "whsec_"

// The spec asks for secrets of 24 to 64 random bytes.
const (
	minSecretBytes      = 24
	maxSecretBytes      = 64
	generateSecretBytes = 32
)

// maskedSecret is what a Secret prints as, however it is formatted.
const maskedSecret = secretPrefix + "****"

// ErrInvalidSecret is returned by ParseSecret for a string that is not
// "whsec_" followed by the standard base64 of 24 to 64 bytes. Its messages
// never repeat the input.
var ErrInvalidSecret = errors.New("webhook: invalid signing secret")

// Secret is a Standard Webhooks signing secret. Its zero value is not
// usable; get one from ParseSecret. It never prints its value: String and
// GoString return "whsec_****", so a careless log line cannot leak it.
type Secret struct {
	key []byte
}

// ParseSecret parses a secret in the spec's form, "whsec_" followed by the
// standard (padded) base64 encoding of 24 to 64 bytes. Surrounding white
// space, such as the newline of a secret read from a file, is ignored.
func ParseSecret(s string) (Secret, error) {
	encoded, ok := strings.CutPrefix(strings.TrimSpace(s), secretPrefix)
	if !ok {
		return Secret{}, fmt.Errorf("%w: want the %q prefix", ErrInvalidSecret, secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		// base64's errors name an offset, never the input's bytes.
		return Secret{}, fmt.Errorf("%w: %w", ErrInvalidSecret, err)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return Secret{}, fmt.Errorf("%w: decodes to %d bytes, want %d to %d",
			ErrInvalidSecret, len(key), minSecretBytes, maxSecretBytes)
	}
	return Secret{key: key}, nil
}

// GenerateSecret returns a new random secret of 32 bytes in the spec's form
// ("whsec_" + base64), ready for ParseSecret and for handing to a customer.
func GenerateSecret() (string, error) {
	key := make([]byte, generateSecretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: generate secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// String returns "whsec_****": the value itself is never printed.
func (Secret) String() string { return maskedSecret }

// GoString returns "whsec_****", so that %#v does not print the key either.
func (Secret) GoString() string { return maskedSecret }

// valid reports whether s came from ParseSecret rather than being a zero
// value, which would sign with an empty key.
func (s Secret) valid() bool { return len(s.key) > 0 }
