package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/task"
)

// Keys is the encryption key ring of personal data at rest: from
// REALNAME_ENCRYPTION_KEYS, or the file REALNAME_ENCRYPTION_KEYS_FILE
// names (never a flag value), written "ID:BASE64,ID:BASE64", the newest
// first. The newest seals; the others still open what they sealed.
type Keys struct {
	Ring Secret
}

// ErrNoKeys is matched by the error of Keys.Codec when no key ring is
// configured.
var ErrNoKeys = errors.New("config: REALNAME_ENCRYPTION_KEYS is not set: personal data rests in Redis only as ciphertext. " +
	"Generate a key with `realname keys generate` and set REALNAME_ENCRYPTION_KEYS (or REALNAME_ENCRYPTION_KEYS_FILE) to it")

// BindKeys registers the key ring setting on fs.
func BindKeys(fs *pflag.FlagSet, getenv Getenv) (*Keys, func() error) {
	c := &Keys{}
	b := &binder{fs: fs, getenv: getenv}
	b.secret(&c.Ring, "encryption-keys", "the encryption key ring, ID:BASE64 entries, newest first")
	return c, b.err
}

// Keyring returns the configured key ring; ErrNoKeys when there is none.
// Errors name the setting, never a key.
func (c *Keys) Keyring() (*keyring.Keyring, error) {
	spec, err := c.Ring.Value()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(spec) == "" {
		return nil, ErrNoKeys
	}
	k, err := keyring.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("config: REALNAME_ENCRYPTION_KEYS: %w", err)
	}
	return k, nil
}

// Codec returns the task codec on the configured key ring.
func (c *Keys) Codec() (*task.Codec, error) {
	k, err := c.Keyring()
	if err != nil {
		return nil, err
	}
	return task.NewCodec(k)
}
