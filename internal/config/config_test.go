package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestEnvThenFlags(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantC   int
		wantR   int
		wantSD  time.Duration
		wantURL string
	}{
		{"defaults", nil, nil, 20, 50, 30 * time.Second, ""},
		{"env", map[string]string{"REALNAME_CONCURRENCY": "8", "REALNAME_RATE_LIMIT": "5", "REALNAME_SHUTDOWN_TIMEOUT": "1m", "REALNAME_REDIS_URL": "redis://r:1/2"},
			nil, 8, 5, time.Minute, "redis://r:1/2"},
		{"flags win over env", map[string]string{"REALNAME_CONCURRENCY": "8"}, []string{"--concurrency", "3", "--redis-url", "redis://f:1/0"},
			3, 50, 30 * time.Second, "redis://f:1/0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			w, werr := BindWorker(fs, env(tc.env))
			r, rerr := BindRedis(fs, env(tc.env))
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := werr(); err != nil {
				t.Fatal(err)
			}
			if err := rerr(); err != nil {
				t.Fatal(err)
			}
			if w.Concurrency != tc.wantC || w.RateLimit != tc.wantR || w.ShutdownTimeout != tc.wantSD || r.URL != tc.wantURL {
				t.Fatalf("got %+v %+v", w, r)
			}
		})
	}
}

func TestBadEnvNamesTheVariable(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	_, errf := BindWorker(fs, env(map[string]string{"REALNAME_CONCURRENCY": "many", "REALNAME_JOB_DEADLINE": "soon"}))
	err := errf()
	if err == nil || !strings.Contains(err.Error(), "REALNAME_CONCURRENCY") || !strings.Contains(err.Error(), "REALNAME_JOB_DEADLINE") {
		t.Fatalf("err = %v, want both variables named", err)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"env", map[string]string{"REALNAME_TENCENT_SECRET_KEY": "from-env"}, nil, "from-env"},
		{"file from env", map[string]string{"REALNAME_TENCENT_SECRET_KEY_FILE": file}, nil, "from-file"},
		{"file flag wins", map[string]string{"REALNAME_TENCENT_SECRET_KEY": "from-env"}, []string{"--tencent-secret-key-file", file}, "from-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			c, _ := BindTencent(fs, env(tc.env))
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got, err := c.SecretKey.Required()
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if strings.Contains(c.SecretKey.String(), tc.want) {
				t.Fatal("Secret.String reveals the value")
			}
		})
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c, _ := BindTencent(fs, env(nil))
	c.SecretID = "AKID"
	if _, err := c.Client(); err == nil || !strings.Contains(err.Error(), "REALNAME_TENCENT_SECRET_KEY") {
		t.Fatalf("missing key: %v, want an error naming the variable", err)
	}
	// There is no flag that takes a secret's value.
	if fs.Lookup("tencent-secret-key") != nil {
		t.Fatal("a secret can be passed on the command line")
	}
}

func TestWebhookClient(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c, _ := BindWebhook(fs, env(map[string]string{"REALNAME_WEBHOOK_URL": "http://127.0.0.1:1/h", "REALNAME_WEBHOOK_ALLOW": "127.0.0.0/8"}))
	if _, _, err := c.Client(); err == nil || !strings.Contains(err.Error(), "REALNAME_WEBHOOK_SECRET") {
		t.Fatalf("a webhook URL without a secret: %v", err)
	}
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	c, _ = BindWebhook(fs, env(map[string]string{
		"REALNAME_WEBHOOK_SECRET":   "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"REALNAME_WEBHOOK_SCHEDULE": "1s,2s",
	}))
	client, sched, err := c.Client()
	if err != nil || client == nil || len(sched) != 2 {
		t.Fatalf("client %v, schedule %v, err %v", client, sched, err)
	}
}

// TestWebhookPolicy: the worker refuses at start a default URL, an
// allowlist or a proxy it would not use, naming the setting; the client it
// builds carries the allowlist.
func TestWebhookPolicy(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	cases := []struct {
		name string
		env  map[string]string
		want string // in the error; "" for none
	}{
		{"defaults", nil, ""},
		{"public https URL", map[string]string{"REALNAME_WEBHOOK_URL": "https://backend.example.com/hooks"}, ""},
		{"plain http URL", map[string]string{"REALNAME_WEBHOOK_URL": "http://backend.example.com/hooks"}, "REALNAME_WEBHOOK_URL"},
		{"private URL", map[string]string{"REALNAME_WEBHOOK_URL": "https://10.0.0.1/hooks"}, "REALNAME_WEBHOOK_URL"},
		{"metadata URL", map[string]string{"REALNAME_WEBHOOK_URL": "http://169.254.169.254/latest"}, "REALNAME_WEBHOOK_URL"},
		{"relative URL", map[string]string{"REALNAME_WEBHOOK_URL": "/hooks"}, "REALNAME_WEBHOOK_URL"},
		{"URL with user info", map[string]string{"REALNAME_WEBHOOK_URL": "https://u:p@backend.example.com/"}, "REALNAME_WEBHOOK_URL"},
		{"allowlisted loopback", map[string]string{"REALNAME_WEBHOOK_URL": "http://127.0.0.1:9000/hooks", "REALNAME_WEBHOOK_ALLOW": "127.0.0.0/8,::1"}, ""},
		{"allowlisted host", map[string]string{"REALNAME_WEBHOOK_URL": "http://receiver:9000/hooks", "REALNAME_WEBHOOK_ALLOW": "receiver"}, ""},
		{"bad allowlist", map[string]string{"REALNAME_WEBHOOK_ALLOW": "127.0.0.0/33"}, "REALNAME_WEBHOOK_ALLOW"},
		{"too long", map[string]string{"REALNAME_WEBHOOK_URL": "https://backend.example.com/hooks", "REALNAME_WEBHOOK_MAX_URL_LENGTH": "20"}, "REALNAME_WEBHOOK_URL"},
		{"negative length", map[string]string{"REALNAME_WEBHOOK_MAX_URL_LENGTH": "-1"}, "REALNAME_WEBHOOK_MAX_URL_LENGTH"},
		{"proxy", map[string]string{"REALNAME_WEBHOOK_PROXY": "http://proxy.internal:3128"}, ""},
		{"socks proxy", map[string]string{"REALNAME_WEBHOOK_PROXY": "socks5://proxy.internal:1080"}, ""},
		{"bad proxy", map[string]string{"REALNAME_WEBHOOK_PROXY": "ftp://user:PROXYPASS@proxy.internal"}, "REALNAME_WEBHOOK_PROXY"},
		{"proxy without host", map[string]string{"REALNAME_WEBHOOK_PROXY": "proxy.internal:3128"}, "REALNAME_WEBHOOK_PROXY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{"REALNAME_WEBHOOK_SECRET": secret}
			for k, v := range tc.env {
				m[k] = v
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			c, berr := BindWebhook(fs, env(m))
			if err := berr(); err != nil {
				t.Fatal(err)
			}
			client, _, err := c.Client()
			if tc.want == "" {
				if err != nil || client == nil {
					t.Fatalf("Client = %v, %v", client, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Client: %v, want an error naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "PROXYPASS") {
				t.Errorf("error %q repeats the proxy's password", err)
			}
		})
	}

	// The API binds the policy alone.
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	pc, _ := BindWebhookPolicy(fs, env(map[string]string{"REALNAME_WEBHOOK_ALLOW": "10.0.0.0/8, hooks.internal"}))
	p, err := pc.URLPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check("http://10.1.2.3/h"); err != nil {
		t.Errorf("allowlisted 10/8: %v", err)
	}
	if err := p.Check("http://hooks.internal/h"); err != nil {
		t.Errorf("allowlisted host: %v", err)
	}
	if err := p.Check("https://192.168.1.1/h"); err == nil {
		t.Error("192.168.1.1 accepted with only 10/8 allowlisted")
	}
}

func TestEnvVarsListed(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	BindRedis(fs, env(nil))
	BindTencent(fs, env(nil))
	BindWorker(fs, env(nil))
	BindWebhook(fs, env(nil))
	vars := EnvVars()
	for _, want := range []string{"REALNAME_REDIS_URL", "REALNAME_TENCENT_SECRET_ID", "REALNAME_TENCENT_SECRET_KEY", "REALNAME_TENCENT_SECRET_KEY_FILE",
		"REALNAME_RATE_LIMIT", "REALNAME_WEBHOOK_SECRET", "REALNAME_WEBHOOK_URL", "REALNAME_WEBHOOK_ALLOW", "REALNAME_WEBHOOK_PROXY",
		"REALNAME_WEBHOOK_MAX_URL_LENGTH"} {
		if !slices.Contains(vars, want) {
			t.Errorf("EnvVars lacks %s", want)
		}
	}
}

func TestRedisClientReportsBadEnv(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	rc, _ := BindRedis(fs, env(map[string]string{"REALNAME_REDIS_URL": "redis://127.0.0.1:1/0", "REALNAME_RESULT_RETENTION": "a month"}))
	if _, err := rc.Client(); err == nil || !strings.Contains(err.Error(), "REALNAME_RESULT_RETENTION") {
		t.Fatalf("Client with a bad REALNAME_RESULT_RETENTION: %v", err)
	}
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	rc, _ = BindRedis(fs, env(nil))
	if _, err := rc.Client(); err == nil || !strings.Contains(err.Error(), "REALNAME_REDIS_URL") {
		t.Fatalf("Client without a URL: %v", err)
	}
}
