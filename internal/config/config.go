// Package config maps environment variables and command-line flags onto the
// configuration of every component, in one place. Each setting has an
// environment variable REALNAME_X and a flag --x; the flag wins. Secrets are
// read from the environment or from a file, never from a flag value, so they
// stay out of shell history and process lists.
//
// EnvVars lists every variable the binary reads, so that deploy files can be
// checked against it.
package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
)

// Getenv reads an environment variable; os.Getenv in production, a map in
// tests.
type Getenv func(string) string

var (
	knownMu sync.Mutex
	known   = map[string]string{} // env var → flag
)

func register(env, flag string) {
	knownMu.Lock()
	known[env] = flag
	knownMu.Unlock()
}

// EnvVars returns every environment variable a Bind function has
// registered, sorted.
func EnvVars() []string {
	knownMu.Lock()
	defer knownMu.Unlock()
	out := make([]string, 0, len(known))
	for k := range known {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// binder registers flags whose defaults come from the environment.
type binder struct {
	fs     *pflag.FlagSet
	getenv Getenv
	errs   []error
}

func envName(flag string) string {
	return "REALNAME_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func (b *binder) str(p *string, flag, def, usage string) {
	env := envName(flag)
	register(env, flag)
	if v := b.getenv(env); v != "" {
		def = v
	}
	b.fs.StringVar(p, flag, def, usage+" (env "+env+")")
}

func (b *binder) integer(p *int, flag string, def int, usage string) {
	env := envName(flag)
	register(env, flag)
	if v := b.getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %q is not an integer", env, v))
		} else {
			def = n
		}
	}
	b.fs.IntVar(p, flag, def, usage+" (env "+env+")")
}

func (b *binder) duration(p *time.Duration, flag string, def time.Duration, usage string) {
	env := envName(flag)
	register(env, flag)
	if v := b.getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %q is not a duration like 30s", env, v))
		} else {
			def = d
		}
	}
	b.fs.DurationVar(p, flag, def, usage+" (env "+env+")")
}

func (b *binder) float(p *float64, flag string, def float64, usage string) {
	env := envName(flag)
	register(env, flag)
	if v := b.getenv(env); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %q is not a number", env, v))
		} else {
			def = x
		}
	}
	b.fs.Float64Var(p, flag, def, usage+" (env "+env+")")
}

func (b *binder) boolean(p *bool, flag string, def bool, usage string) {
	env := envName(flag)
	register(env, flag)
	if v := b.getenv(env); v != "" {
		x, err := strconv.ParseBool(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s: %q is not true or false", env, v))
		} else {
			def = x
		}
	}
	b.fs.BoolVar(p, flag, def, usage+" (env "+env+")")
}

// secret registers REALNAME_<NAME> and REALNAME_<NAME>_FILE, and a
// --<name>-file flag. The value is read by Secret.Value.
func (b *binder) secret(s *Secret, name, usage string) {
	s.env = envName(name)
	s.getenv = b.getenv
	register(s.env, "")
	register(s.env+"_FILE", name+"-file")
	def := b.getenv(s.env + "_FILE")
	b.fs.StringVar(&s.file, name+"-file", def, "read "+usage+" from this file (env "+s.env+"_FILE; or set "+s.env+")")
}

func (b *binder) err() error {
	if len(b.errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %w", joinErrs(b.errs))
}

func joinErrs(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// Secret is a secret setting: from REALNAME_<NAME>, or from the file named
// by --<name>-file or REALNAME_<NAME>_FILE. It never prints its value.
type Secret struct {
	env    string
	file   string
	getenv Getenv
}

// Value returns the secret, reading its file if one is set. It returns ""
// and no error when the secret is not configured.
func (s *Secret) Value() (string, error) {
	if s.file != "" {
		b, err := os.ReadFile(s.file)
		if err != nil {
			return "", fmt.Errorf("config: %s_FILE: %w", s.env, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if s.getenv == nil {
		return "", nil
	}
	return s.getenv(s.env), nil
}

// Required returns the secret or an error naming how to set it.
func (s *Secret) Required() (string, error) {
	v, err := s.Value()
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", fmt.Errorf("config: %s (or %s_FILE) is required", s.env, s.env)
	}
	return v, nil
}

// String implements fmt.Stringer without revealing the secret.
func (s *Secret) String() string { return s.env + "=****" }

// RedisClient returns a client for a redis:// or rediss:// URL.
func RedisClient(rawURL string) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("config: redis URL: %w", err)
	}
	return redis.NewClient(opt), nil
}
