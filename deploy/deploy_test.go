// Package deploy_test checks the deployment files in deploy/ against the
// binary they deploy. Nothing here runs Docker, Kubernetes or systemd: the
// files are parsed, and the environment each realname process would get is
// rebuilt from them and checked:
//
//   - every REALNAME_ variable a file sets, or even mentions, is one the
//     binary reads: config.EnvVars plus the names cmd/realname reads itself,
//     found by scanning its string literals, so a renamed or removed setting
//     fails here instead of being ignored in production;
//   - every api and worker process has the variables its role requires, and
//     their values parse the way the binary parses them;
//   - the shape production needs: a stop grace period longer than the
//     shutdown timeout, probes, non-root users, resources, disruption
//     budgets, a static binary in a multi-stage image, hardened units.
//
// When systemd-analyze or Docker Compose is on the PATH, the files are also
// handed to them; without them those checks are skipped.
package deploy_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/realname-io/realname/internal/config"
)

const (
	// binPath is where the systemd units expect the binary.
	binPath = "/usr/local/bin/realname"
	// envFilePath is the units' EnvironmentFile; realname.env.example is
	// its template.
	envFilePath = "/etc/realname/realname.env"
	// apiDrain is how long realname api drains its requests after SIGTERM
	// (producer/httpapi.Server.Run; not configurable).
	apiDrain = 30 * time.Second
	// fromSecret stands for a value a Kubernetes Secret provides: known to
	// be set, not known in value.
	fromSecret = "\x00from-secret"
)

// envRe matches an environment variable of realname.
var envRe = regexp.MustCompile(`REALNAME_[A-Z0-9_]+`)

// required lists, for each role (subcommand), the variables it cannot run
// without; an inner list is alternatives, one of which must be set.
var required = map[string][][]string{
	"api": {{"REALNAME_REDIS_URL"}},
	"worker": {
		{"REALNAME_REDIS_URL"},
		{"REALNAME_TENCENT_SECRET_ID"},
		{"REALNAME_TENCENT_SECRET_KEY", "REALNAME_TENCENT_SECRET_KEY_FILE"},
	},
}

// knownVars returns every environment variable the binary reads: what the
// config package's Bind functions register, and every REALNAME_ name in a
// string literal of cmd/realname (os.Getenv, envOr and the like).
var knownVars = sync.OnceValues(func() (map[string]bool, error) {
	noEnv := func(string) string { return "" }
	fs := pflag.NewFlagSet("deploy-test", pflag.ContinueOnError)
	config.BindRedis(fs, noEnv)
	config.BindProviders(fs, noEnv)
	config.BindWorker(fs, noEnv)
	config.BindWebhook(fs, noEnv)
	known := map[string]bool{}
	for _, v := range config.EnvVars() {
		known[v] = true
	}
	direct, err := cmdVars("../cmd/realname")
	if err != nil {
		return nil, err
	}
	for _, v := range direct {
		known[v] = true
	}
	return known, nil
})

// cmdVars returns the REALNAME_ names in the string literals of the
// non-test Go files in dir.
func cmdVars(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, m := range envRe.FindAllString(s, -1) {
				out = append(out, strings.TrimRight(m, "_"))
			}
			return true
		})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	return out, nil
}

func known(t *testing.T) map[string]bool {
	t.Helper()
	k, err := knownVars()
	if err != nil {
		t.Fatalf("listing the variables the binary reads: %v", err)
	}
	return k
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(rel)
	if err != nil {
		t.Fatalf("deploy/%s: %v", rel, err)
	}
	return b
}

// --- what the deploy files set ------------------------------------------

// setVar is one environment variable a deploy file sets.
type setVar struct {
	file  string // relative to deploy/
	where string // the service, container or line
	name  string
}

// process is one realname process a deploy file runs, with the
// environment it gets.
type process struct {
	file  string // relative to deploy/
	name  string // compose service, Deployment/container or unit
	role  string // the subcommand: api, worker, sandbox
	args  []string
	env   map[string]string
	grace time.Duration // how long after SIGTERM the platform sends SIGKILL
}

func (p process) String() string { return fmt.Sprintf("deploy/%s: %s (%s)", p.file, p.name, p.role) }

// set reports whether the variable is set to something non-empty.
func (p process) set(name string) bool { return p.env[name] != "" }

// getenv returns the process's variable; a value from a Secret reads as a
// placeholder.
func (p process) getenv(name string) string {
	if v := p.env[name]; v != fromSecret {
		return v
	}
	return "from-secret"
}

// deployment is everything parsed from deploy/, loaded once per test.
type deployment struct {
	docker  dockerfile
	compose composeFile
	k8s     k8sFiles
	units   map[string]unit // file name → unit
	envFile []envLine       // realname.env.example
}

func load(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{
		docker:  parseDockerfile(t, "Dockerfile"),
		compose: loadCompose(t, "compose.yaml"),
		k8s:     loadK8s(t, "k8s"),
		units:   map[string]unit{},
		envFile: parseEnvFile(t, "systemd/realname.env.example"),
	}
	for _, name := range []string{"realname-api.service", "realname-worker@.service"} {
		d.units[name] = parseUnit(t, "systemd/"+name)
	}
	return d
}

// setVars returns every environment variable the deploy files set.
func (d *deployment) setVars() []setVar {
	var out []setVar
	for _, st := range d.docker.stages {
		for _, in := range st.instrs {
			if in.cmd == "ENV" {
				for _, kv := range dockerEnv(in.args) {
					out = append(out, setVar{"Dockerfile", fmt.Sprintf("line %d", in.line), kv[0]})
				}
			}
		}
	}
	for _, name := range sortedKeys(d.compose.Services) {
		for _, k := range sortedKeys(d.compose.Services[name].Environment) {
			out = append(out, setVar{"compose.yaml", "service " + name, k})
		}
	}
	for _, cm := range d.k8s.configMaps {
		for _, k := range sortedKeys(cm.obj.Data) {
			out = append(out, setVar{cm.file, "ConfigMap " + cm.obj.Metadata.Name + " data", k})
		}
	}
	for _, dep := range d.k8s.deployments {
		for _, c := range dep.obj.Spec.Template.Spec.Containers {
			where := "Deployment " + dep.obj.Metadata.Name + " container " + c.Name
			for _, e := range c.Env {
				out = append(out, setVar{dep.file, where + " env", e.Name})
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					for _, k := range sortedKeys(d.k8s.secretKeys(ef.SecretRef.Name)) {
						out = append(out, setVar{dep.file, where + " envFrom Secret " + ef.SecretRef.Name, ef.Prefix + k})
					}
				}
			}
		}
	}
	for _, l := range d.envFile {
		out = append(out, setVar{"systemd/realname.env.example", fmt.Sprintf("line %d", l.line), l.key})
	}
	for _, name := range sortedKeys(d.units) {
		for _, kv := range d.units[name].environment() {
			out = append(out, setVar{"systemd/" + name, "Environment=", kv[0]})
		}
	}
	return out
}

// processes returns every realname process the deploy files run.
func (d *deployment) processes(t *testing.T) []process {
	t.Helper()
	imageEnv := map[string]string{}
	for _, in := range d.docker.final().instrs {
		if in.cmd == "ENV" {
			for _, kv := range dockerEnv(in.args) {
				imageEnv[kv[0]] = kv[1]
			}
		}
	}
	var out []process

	for _, name := range sortedKeys(d.compose.Services) {
		s := d.compose.Services[name]
		if !s.isRealname() {
			continue
		}
		if len(s.Command) == 0 {
			t.Errorf("deploy/compose.yaml: service %s: no command: the image has no default subcommand", name)
			continue
		}
		grace := 10 * time.Second // Compose's default
		if s.StopGracePeriod != "" {
			g, err := time.ParseDuration(s.StopGracePeriod)
			if err != nil {
				t.Errorf("deploy/compose.yaml: service %s: stop_grace_period: %v", name, err)
			}
			grace = g
		}
		env := maps.Clone(imageEnv)
		for k, v := range s.Environment {
			env[k] = v
		}
		out = append(out, process{"compose.yaml", "service " + name, s.Command[0], s.Command[1:], env, grace})
	}

	for _, dep := range d.k8s.deployments {
		pod := dep.obj.Spec.Template.Spec
		grace := 30 * time.Second // Kubernetes's default
		if pod.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		}
		for _, c := range pod.Containers {
			name := "Deployment " + dep.obj.Metadata.Name + " container " + c.Name
			args := append(slices.Clone(c.Command), c.Args...)
			if len(c.Command) > 0 && c.Command[0] == "/realname" {
				args = args[1:]
			}
			if len(args) == 0 {
				t.Errorf("deploy/%s: %s: no args: the image has no default subcommand", dep.file, name)
				continue
			}
			env := maps.Clone(imageEnv)
			for _, ef := range c.EnvFrom {
				switch {
				case ef.ConfigMapRef != nil:
					for k, v := range d.k8s.configMapData(ef.ConfigMapRef.Name) {
						env[ef.Prefix+k] = v
					}
				case ef.SecretRef != nil:
					for k := range d.k8s.secretKeys(ef.SecretRef.Name) {
						env[ef.Prefix+k] = fromSecret
					}
				}
			}
			for _, e := range c.Env {
				switch {
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				case e.ValueFrom.SecretKeyRef != nil:
					// An optional key that the example Secret lacks may
					// well be missing: the variable counts as unset.
					ref := e.ValueFrom.SecretKeyRef
					if !ref.Optional || d.k8s.secretKeys(ref.Name)[ref.Key] {
						env[e.Name] = fromSecret
					}
				case e.ValueFrom.ConfigMapKeyRef != nil:
					ref := e.ValueFrom.ConfigMapKeyRef
					if v, ok := d.k8s.configMapData(ref.Name)[ref.Key]; ok {
						env[e.Name] = v
					}
				default:
					env[e.Name] = "from-field"
				}
			}
			out = append(out, process{dep.file, name, args[0], args[1:], env, grace})
		}
	}

	for _, name := range sortedKeys(d.units) {
		u := d.units[name]
		argv := u.execStart()
		if len(argv) < 2 {
			t.Errorf("deploy/systemd/%s: ExecStart=%q names no subcommand", name, strings.Join(argv, " "))
			continue
		}
		grace := 90 * time.Second // systemd's DefaultTimeoutStopSec
		for _, key := range []string{"TimeoutSec", "TimeoutStopSec"} {
			if v := u.last("Service", key); v != "" {
				g, err := systemdDuration(v)
				if err != nil {
					t.Errorf("deploy/systemd/%s: %s=%s: %v", name, key, v, err)
				}
				grace = g
			}
		}
		// EnvironmentFile= overrides Environment=.
		env := map[string]string{}
		for _, kv := range u.environment() {
			env[kv[0]] = kv[1]
		}
		for _, f := range u.values("Service", "EnvironmentFile") {
			if strings.TrimPrefix(f, "-") != envFilePath {
				t.Errorf("deploy/systemd/%s: EnvironmentFile=%s: only %s has an example here", name, f, envFilePath)
				continue
			}
			for _, l := range d.envFile {
				env[l.key] = l.value
			}
		}
		out = append(out, process{"systemd/" + name, "unit " + name, argv[1], argv[2:], env, grace})
	}
	return out
}

// --- 1. every variable set is one the binary reads ------------------------

func TestKnownVarsAreFound(t *testing.T) {
	t.Parallel()
	k := known(t)
	// One of each source: a Bind function, and a direct read in cmd/realname.
	for _, name := range []string{"REALNAME_REDIS_URL", "REALNAME_TENCENT_SECRET_KEY_FILE", "REALNAME_API_ADDR", "REALNAME_LOG_LEVEL"} {
		if !k[name] {
			t.Errorf("%s is missing from the variables the binary reads: the list is built wrong", name)
		}
	}
}

func TestSetVarsAreRead(t *testing.T) {
	t.Parallel()
	d := load(t)
	k := known(t)
	vars := d.setVars()
	files := map[string]bool{}
	for _, v := range vars {
		files[v.file] = true
		if strings.HasPrefix(v.name, "REALNAME_") && !k[v.name] {
			t.Errorf("deploy/%s: %s sets %s, which realname does not read (a typo, or a renamed or removed setting?)", v.file, v.where, v.name)
		}
	}
	// Each kind of file must have been looked into, or the check above
	// proves nothing.
	for _, f := range []string{"Dockerfile", "compose.yaml", "k8s/configmap.yaml", "k8s/worker.yaml", "systemd/realname.env.example"} {
		if !files[f] {
			t.Errorf("deploy/%s: no environment variable found in it", f)
		}
	}
}

// TestMentionedVarsAreRead catches the same drift in comments and docs:
// commented-out settings and the README are copied into real files.
func TestMentionedVarsAreRead(t *testing.T) {
	t.Parallel()
	k := known(t)
	err := filepath.WalkDir(".", func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range envRe.FindAllString(line, -1) {
				if m = strings.TrimRight(m, "_"); !k[m] {
					t.Errorf("deploy/%s:%d: mentions %s, which realname does not read", path, i+1, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// --- 2. every role has what it requires, in values that parse ------------

func TestRequiredVars(t *testing.T) {
	t.Parallel()
	procs := load(t).processes(t)
	for _, p := range procs {
		for _, alts := range required[p.role] {
			if !slices.ContainsFunc(alts, p.set) {
				t.Errorf("%s: %s is not set", p, strings.Join(alts, " or "))
			}
		}
		// The worker refuses a webhook URL without a secret to sign with.
		if p.role == "worker" && p.set("REALNAME_WEBHOOK_URL") && !p.set("REALNAME_WEBHOOK_SECRET") && !p.set("REALNAME_WEBHOOK_SECRET_FILE") {
			t.Errorf("%s: REALNAME_WEBHOOK_URL is set without REALNAME_WEBHOOK_SECRET", p)
		}
	}
	// Every place runs both roles, so that none is checked by nothing.
	for _, file := range []string{"compose.yaml", "k8s/api.yaml", "k8s/worker.yaml", "systemd/realname-api.service", "systemd/realname-worker@.service"} {
		roles := map[string]bool{}
		for _, p := range procs {
			if p.file == file {
				roles[p.role] = true
			}
		}
		want := []string{"api", "worker"}
		switch {
		case strings.Contains(file, "api"):
			want = []string{"api"}
		case strings.Contains(file, "worker"):
			want = []string{"worker"}
		}
		for _, r := range want {
			if !roles[r] {
				t.Errorf("deploy/%s: runs no realname %s", file, r)
			}
		}
	}
}

// TestValuesParse hands each process's environment to the config package,
// as the binary does, so a value it would refuse fails here.
func TestValuesParse(t *testing.T) {
	t.Parallel()
	for _, p := range load(t).processes(t) {
		fs := pflag.NewFlagSet(p.name, pflag.ContinueOnError)
		_, rerr := config.BindRedis(fs, p.getenv)
		_, terr := config.BindProviders(fs, p.getenv)
		_, werr := config.BindWorker(fs, p.getenv)
		_, herr := config.BindWebhook(fs, p.getenv)
		for _, f := range []func() error{rerr, terr, werr, herr} {
			if err := f(); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		if v := p.env["REALNAME_REDIS_URL"]; v != "" && v != fromSecret {
			rdb, err := config.RedisClient(v)
			if err != nil {
				t.Errorf("%s: REALNAME_REDIS_URL: %v", p, err)
			} else {
				rdb.Close()
			}
		}
		if v := p.env["REALNAME_TENCENT_ENDPOINT"]; v != "" {
			if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
				t.Errorf("%s: REALNAME_TENCENT_ENDPOINT=%s is not an absolute URL", p, v)
			}
		}
		for _, name := range []string{"REALNAME_API_ADDR", "REALNAME_METRICS_ADDR"} {
			if v := p.env[name]; v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					t.Errorf("%s: %s=%s: %v", p, name, v, err)
				}
			}
		}
		if v := p.env["REALNAME_LOG_LEVEL"]; v != "" {
			if _, err := zerolog.ParseLevel(v); err != nil {
				t.Errorf("%s: REALNAME_LOG_LEVEL=%s: %v", p, v, err)
			}
		}
		if v := p.env["REALNAME_LOG_FORMAT"]; v != "" && v != "json" && v != "console" {
			t.Errorf("%s: REALNAME_LOG_FORMAT=%s: want json or console", p, v)
		}
	}
}

// --- 3. structure ----------------------------------------------------------

// TestYAMLParses decodes every YAML document under deploy/, and checks that
// the Kubernetes ones are complete and namespace-agnostic.
func TestYAMLParses(t *testing.T) {
	t.Parallel()
	n := 0
	err := filepath.WalkDir(".", func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		docs, err := yamlDocs(path)
		if err != nil {
			t.Errorf("deploy/%s: %v", path, err)
			return nil
		}
		for i, doc := range docs {
			n++
			var m map[string]any
			if err := doc.Decode(&m); err != nil || len(m) == 0 {
				t.Errorf("deploy/%s: document %d is not a mapping (%v)", path, i+1, err)
				continue
			}
			if !strings.HasPrefix(path, "k8s"+string(filepath.Separator)) {
				continue
			}
			var obj k8sObject
			if err := doc.Decode(&obj); err != nil {
				t.Errorf("deploy/%s: document %d: %v", path, i+1, err)
				continue
			}
			if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
				t.Errorf("deploy/%s: document %d lacks apiVersion, kind or metadata.name", path, i+1)
			}
			if obj.Metadata.Namespace != "" {
				t.Errorf("deploy/%s: %s %s: metadata.namespace is set; the manifests are applied with kubectl -n", path, obj.Kind, obj.Metadata.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no YAML document found under deploy/")
	}
}

// TestGracePeriodCoversShutdown: after SIGTERM a worker finishes its
// in-flight calls for up to REALNAME_SHUTDOWN_TIMEOUT and the API drains for
// apiDrain; the platform must wait longer than that before SIGKILL, or
// paid calls are cut off with their results lost.
func TestGracePeriodCoversShutdown(t *testing.T) {
	t.Parallel()
	for _, p := range load(t).processes(t) {
		var need time.Duration
		switch p.role {
		case "worker":
			fs := pflag.NewFlagSet(p.name, pflag.ContinueOnError)
			wc, _ := config.BindWorker(fs, p.getenv)
			need = wc.ShutdownTimeout // the default when unset
		case "api":
			need = apiDrain
		default:
			continue
		}
		if p.grace <= need {
			t.Errorf("%s: the stop grace period (stop_grace_period, terminationGracePeriodSeconds or TimeoutStopSec) is %v, not longer than the %v shutdown", p, p.grace, need)
		}
	}
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	d := load(t)
	services := d.compose.Services
	redis, ok := services["redis"]
	if !ok {
		t.Fatal("deploy/compose.yaml: no redis service")
	}
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync everysec") {
		t.Errorf("deploy/compose.yaml: service redis: command %q does not turn on the AOF (--appendonly yes --appendfsync everysec)", cmd)
	}
	for _, name := range []string{"redis", "postgres"} {
		s, ok := services[name]
		switch {
		case !ok:
			t.Errorf("deploy/compose.yaml: no %s service", name)
		case s.Healthcheck == nil || len(s.Healthcheck.Test) == 0:
			t.Errorf("deploy/compose.yaml: service %s: no healthcheck", name)
		case len(s.Volumes) == 0:
			t.Errorf("deploy/compose.yaml: service %s: no volume: its data goes with the container", name)
		}
	}
	for _, name := range sortedKeys(services) {
		s := services[name]
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("deploy/compose.yaml: service %s: no restart policy", name)
		}
		for _, v := range s.Volumes {
			vol, _, _ := strings.Cut(v, ":")
			if !strings.ContainsAny(vol, "./") {
				if _, ok := d.compose.Volumes[vol]; !ok {
					t.Errorf("deploy/compose.yaml: service %s: volume %s is not declared under volumes", name, vol)
				}
			}
		}
		if !s.isRealname() || len(s.Command) == 0 {
			continue
		}
		if role := s.Command[0]; role == "api" || role == "worker" {
			if s.DependsOn["redis"] != "service_healthy" {
				t.Errorf("deploy/compose.yaml: service %s: depends_on redis is %q, want condition service_healthy", name, s.DependsOn["redis"])
			}
		}
	}
}

// TestComposeWorkersCallTheSandbox: the compose file is for trying realname
// out, so its workers call the sandbox, with credentials it accepts.
func TestComposeWorkersCallTheSandbox(t *testing.T) {
	t.Parallel()
	d := load(t)
	var sandbox *process
	var workers []process
	for _, p := range d.processes(t) {
		if p.file != "compose.yaml" {
			continue
		}
		switch p.role {
		case "sandbox":
			sandbox = &p
		case "worker":
			workers = append(workers, p)
		}
	}
	if sandbox == nil {
		t.Fatal("deploy/compose.yaml: no service runs realname sandbox")
	}
	if len(workers) < 2 {
		t.Errorf("deploy/compose.yaml: %d worker services, want 2 to show them sharing the work", len(workers))
	}
	addr := "127.0.0.1:8600" // realname sandbox's default
	for i, a := range sandbox.args {
		if a == "--addr" && i+1 < len(sandbox.args) {
			addr = sandbox.args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--addr="); ok {
			addr = v
		}
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: --addr %s: %v", sandbox, addr, err)
	}
	if strings.HasPrefix(addr, "127.") || strings.HasPrefix(addr, "localhost") {
		t.Errorf("%s: listens on %s, which other containers cannot reach", sandbox, addr)
	}
	sandboxService := strings.TrimPrefix(sandbox.name, "service ")
	for _, w := range workers {
		u, err := url.Parse(w.env["REALNAME_TENCENT_ENDPOINT"])
		if err != nil || u.Host != net.JoinHostPort(sandboxService, port) || u.Path != "/v2/index.php" {
			t.Errorf("%s: REALNAME_TENCENT_ENDPOINT=%s, want http://%s/v2/index.php", w, w.env["REALNAME_TENCENT_ENDPOINT"], net.JoinHostPort(sandboxService, port))
		}
		for _, pair := range [][2]string{
			{"REALNAME_TENCENT_SECRET_ID", "REALNAME_SANDBOX_SECRET_ID"},
			{"REALNAME_TENCENT_SECRET_KEY", "REALNAME_SANDBOX_SECRET_KEY"},
		} {
			if w.env[pair[0]] != sandbox.env[pair[1]] {
				t.Errorf("%s: %s differs from the sandbox's %s: the sandbox will refuse its signatures", w, pair[0], pair[1])
			}
		}
	}
}

func TestK8sDeployments(t *testing.T) {
	t.Parallel()
	d := load(t)
	if len(d.k8s.deployments) < 2 {
		t.Fatalf("deploy/k8s: %d Deployments, want the api and the worker", len(d.k8s.deployments))
	}
	for _, dep := range d.k8s.deployments {
		where := fmt.Sprintf("deploy/%s: Deployment %s", dep.file, dep.obj.Metadata.Name)
		spec := dep.obj.Spec
		pod := spec.Template.Spec
		labels := spec.Template.Metadata.Labels
		if sel := spec.Selector.MatchLabels; len(sel) == 0 || !subset(sel, labels) {
			t.Errorf("%s: selector %v does not select its pod template's labels %v", where, sel, labels)
		}
		if spec.Replicas != nil && *spec.Replicas < 2 {
			t.Errorf("%s: %d replica(s): a drain or a crash stops it", where, *spec.Replicas)
		}

		pdbs := 0
		for _, p := range d.k8s.pdbs {
			if sel := p.obj.Spec.Selector.MatchLabels; len(sel) > 0 && subset(sel, labels) {
				pdbs++
				if p.obj.Spec.MinAvailable == nil && p.obj.Spec.MaxUnavailable == nil {
					t.Errorf("deploy/%s: PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", p.file, p.obj.Metadata.Name)
				}
			}
		}
		if pdbs != 1 {
			t.Errorf("%s: %d PodDisruptionBudgets select its pods, want 1", where, pdbs)
		}

		podNonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
		for _, c := range pod.Containers {
			where := where + " container " + c.Name
			sc := c.SecurityContext
			nonRoot := podNonRoot
			if sc != nil && sc.RunAsNonRoot != nil {
				nonRoot = *sc.RunAsNonRoot
			}
			if !nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			for _, ctx := range []*securityContext{pod.SecurityContext, sc} {
				if ctx != nil && ctx.RunAsUser != nil && *ctx.RunAsUser == 0 {
					t.Errorf("%s: runAsUser 0", where)
				}
			}
			switch {
			case sc == nil:
				t.Errorf("%s: no securityContext", where)
			default:
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s: securityContext.allowPrivilegeEscalation is not false", where)
				}
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Errorf("%s: securityContext.readOnlyRootFilesystem is not true", where)
				}
				if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
					t.Errorf("%s: securityContext.capabilities.drop lacks ALL", where)
				}
			}
			for _, r := range []string{"cpu", "memory"} {
				if c.Resources.Requests[r] == "" {
					t.Errorf("%s: no resources.requests.%s", where, r)
				}
			}
			if c.Resources.Limits["memory"] == "" {
				t.Errorf("%s: no resources.limits.memory", where)
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && d.k8s.configMapData(ef.ConfigMapRef.Name) == nil {
					t.Errorf("%s: envFrom ConfigMap %s is not in deploy/k8s", where, ef.ConfigMapRef.Name)
				}
				if ef.SecretRef != nil && d.k8s.secretKeys(ef.SecretRef.Name) == nil {
					t.Errorf("%s: envFrom Secret %s is not in deploy/k8s", where, ef.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				keys := d.k8s.secretKeys(ref.Name)
				switch {
				case keys == nil:
					t.Errorf("%s: env %s: Secret %s is not in deploy/k8s", where, e.Name, ref.Name)
				case !keys[ref.Key] && !ref.Optional:
					t.Errorf("%s: env %s: Secret %s has no key %s", where, e.Name, ref.Name, ref.Key)
				}
			}
		}
	}
}

func TestK8sAPI(t *testing.T) {
	t.Parallel()
	d := load(t)
	dep, c := d.k8s.container(t, "api")
	where := fmt.Sprintf("deploy/%s: Deployment %s container %s", dep.file, dep.obj.Metadata.Name, c.Name)
	addr := "127.0.0.1:8080" // realname api's default
	for _, e := range c.Env {
		if e.Name == "REALNAME_API_ADDR" {
			addr = e.Value
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: REALNAME_API_ADDR=%s: %v", where, addr, err)
	}
	if host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("%s: REALNAME_API_ADDR=%s: the kubelet and the Service cannot reach it", where, addr)
	}
	for _, pr := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"livenessProbe", c.LivenessProbe, "/healthz"},
	} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("%s: no %s.httpGet", where, pr.name)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path {
			t.Errorf("%s: %s.httpGet.path is %q, want %s", where, pr.name, pr.probe.HTTPGet.Path, pr.path)
		}
		if got := c.portNumber(pr.probe.HTTPGet.Port); got != port {
			t.Errorf("%s: %s.httpGet.port %s is port %q, but the API listens on %s", where, pr.name, pr.probe.HTTPGet.Port, got, port)
		}
	}
	labels := dep.obj.Spec.Template.Metadata.Labels
	found := false
	for _, svc := range d.k8s.services {
		if len(svc.obj.Spec.Selector) == 0 || !subset(svc.obj.Spec.Selector, labels) {
			continue
		}
		found = true
		for _, p := range svc.obj.Spec.Ports {
			target := p.TargetPort
			if target == "" {
				target = strconv.Itoa(p.Port)
			}
			if got := c.portNumber(target); got != port {
				t.Errorf("deploy/%s: Service %s: port %d → targetPort %s is %q, but the API listens on %s", svc.file, svc.obj.Metadata.Name, p.Port, target, got, port)
			}
		}
	}
	if !found {
		t.Errorf("deploy/k8s: no Service selects the pods of %s", where)
	}
}

func TestK8sWorkerMetrics(t *testing.T) {
	t.Parallel()
	d := load(t)
	dep, c := d.k8s.container(t, "worker")
	where := fmt.Sprintf("deploy/%s: Deployment %s container %s", dep.file, dep.obj.Metadata.Name, c.Name)
	var procEnv map[string]string
	for _, p := range d.processes(t) {
		if p.file == dep.file && p.role == "worker" {
			procEnv = p.env
		}
	}
	addr, ok := procEnv["REALNAME_METRICS_ADDR"]
	if !ok {
		t.Fatalf("%s: REALNAME_METRICS_ADDR is not set: the worker serves no /metrics", where)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: REALNAME_METRICS_ADDR=%s: %v", where, addr, err)
	}
	if strings.HasPrefix(host, "127.") || host == "localhost" {
		t.Errorf("%s: REALNAME_METRICS_ADDR=%s is loopback", where, addr)
	}
	if c.portNumber(port) != port {
		t.Errorf("%s: no containerPort %s for REALNAME_METRICS_ADDR=%s", where, port, addr)
	}
}

// TestWorkerMetricsAddr: realname worker serves /metrics only where
// REALNAME_METRICS_ADDR (or --metrics-addr) says, so that several workers
// start side by side on one host. Every file that runs a worker says so
// itself, not through the image's ENV; the systemd template unit gives each
// instance a loopback port of its own, the instance name, which the
// environment file must not override (EnvironmentFile= wins over
// Environment=).
func TestWorkerMetricsAddr(t *testing.T) {
	t.Parallel()
	d := load(t)
	const name = "REALNAME_METRICS_ADDR"
	sets := d.setVars()
	workers := 0
	for _, p := range d.processes(t) {
		if p.role != "worker" {
			continue
		}
		workers++
		addr, fromFlag := p.env[name], false
		for i, a := range p.args {
			if a == "--metrics-addr" && i+1 < len(p.args) {
				addr, fromFlag = p.args[i+1], true
			} else if v, ok := strings.CutPrefix(a, "--metrics-addr="); ok {
				addr, fromFlag = v, true
			}
		}
		if addr == "" {
			t.Errorf("%s: %s is not set: the worker serves no /metrics", p, name)
			continue
		}
		own := fromFlag || slices.ContainsFunc(sets, func(v setVar) bool {
			return v.file == p.file && v.name == name && (strings.HasPrefix(p.file, "systemd/") || strings.HasPrefix(v.where, p.name))
		})
		if !own {
			t.Errorf("%s: %s=%s comes from the image only: set it in deploy/%s, where the worker runs", p, name, addr, p.file)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("%s: metrics address %s: %v", p, addr, err)
			continue
		}
		if strings.HasPrefix(p.file, "systemd/") && strings.Contains(p.file, "@.") {
			if port != "%i" {
				t.Errorf("%s: metrics address %s, want port %%i: every instance on the host needs a port of its own", p, addr)
			}
			if !strings.HasPrefix(host, "127.") && host != "localhost" && host != "::1" {
				t.Errorf("%s: metrics address %s is not loopback", p, addr)
			}
			for _, l := range d.envFile {
				if l.key == name {
					t.Errorf("deploy/systemd/realname.env.example:%d: sets %s, which overrides every instance's own port (EnvironmentFile= wins over Environment=)", l.line, name)
				}
			}
		}
	}
	if workers == 0 {
		t.Fatal("deploy/: no file runs realname worker")
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	df := load(t).docker
	if len(df.stages) < 2 {
		t.Fatalf("deploy/Dockerfile: %d FROM stage(s), want a build stage and a runtime stage", len(df.stages))
	}
	build := df.stages[:len(df.stages)-1]
	final := df.final()

	var goBuild *instr
	stageNames := map[string]bool{}
	for _, st := range build {
		stageNames[st.name] = true
		cgoOff := false
		downloaded := -1
		for i, in := range st.instrs {
			switch {
			case in.cmd == "ENV" && slices.Contains(dockerEnv(in.args), [2]string{"CGO_ENABLED", "0"}):
				cgoOff = true
			case in.cmd == "RUN" && strings.Contains(in.args, "go mod download"):
				downloaded = i
			case in.cmd == "COPY" && downloaded < 0 && slices.Contains(strings.Fields(in.args), "."):
				t.Errorf("deploy/Dockerfile:%d: the whole tree is copied before go mod download: every edit downloads the modules again", in.line)
			case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
				goBuild = &st.instrs[i]
				if !cgoOff && !strings.Contains(in.args, "CGO_ENABLED=0") {
					t.Errorf("deploy/Dockerfile:%d: go build without CGO_ENABLED=0: the binary will not run on a static base image", in.line)
				}
				if !strings.Contains(in.args, "-trimpath") {
					t.Errorf("deploy/Dockerfile:%d: go build without -trimpath", in.line)
				}
			}
		}
		if downloaded < 0 {
			t.Errorf("deploy/Dockerfile: stage %q: no RUN go mod download layer", st.name)
		}
	}
	if goBuild == nil {
		t.Fatal("deploy/Dockerfile: no build stage runs go build")
	}
	if !strings.Contains(goBuild.args, "./cmd/realname") {
		t.Errorf("deploy/Dockerfile:%d: go build does not build ./cmd/realname", goBuild.line)
	}

	var user, entrypoint string
	copied := false
	exposed := map[string]bool{}
	for _, in := range final.instrs {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				p, _, _ = strings.Cut(p, "/")
				exposed[p] = true
			}
		case "COPY":
			for _, f := range strings.Fields(in.args) {
				if from, ok := strings.CutPrefix(f, "--from="); ok && stageNames[from] {
					copied = true
				}
			}
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("deploy/Dockerfile: the final stage runs as %q, want a non-root USER", user)
	}
	if !copied {
		t.Error("deploy/Dockerfile: the final stage copies nothing from a build stage")
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) != 1 || ep[0] != "/realname" {
		t.Errorf("deploy/Dockerfile: ENTRYPOINT %s, want [\"/realname\"] in exec form (so SIGTERM reaches the binary)", entrypoint)
	}
	if !exposed["8080"] {
		t.Error("deploy/Dockerfile: the final stage does not EXPOSE 8080")
	}
}

func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	d := load(t)
	cases := []struct {
		file, subcommand string
	}{
		{"realname-api.service", "api"},
		{"realname-worker@.service", "worker"},
	}
	for _, tc := range cases {
		u, ok := d.units[tc.file]
		if !ok {
			t.Errorf("deploy/systemd/%s: missing", tc.file)
			continue
		}
		where := "deploy/systemd/" + tc.file
		if argv := u.execStart(); len(argv) < 2 || argv[0] != binPath || argv[1] != tc.subcommand {
			t.Errorf("%s: ExecStart=%s, want %s %s", where, strings.Join(argv, " "), binPath, tc.subcommand)
		}
		want := map[string]string{
			"KillSignal":      "SIGTERM",
			"Restart":         "on-failure",
			"NoNewPrivileges": "yes",
			"ProtectSystem":   "strict",
			"ProtectHome":     "yes",
			"PrivateTmp":      "yes",
		}
		for _, k := range sortedKeys(want) {
			if got := u.last("Service", k); got != want[k] {
				t.Errorf("%s: %s=%q, want %s", where, k, got, want[k])
			}
		}
		if user := u.last("Service", "User"); u.last("Service", "DynamicUser") != "yes" && (user == "" || user == "root" || user == "0") {
			t.Errorf("%s: runs as root: set DynamicUser=yes or a User=", where)
		}
		if files := u.values("Service", "EnvironmentFile"); len(files) == 0 {
			t.Errorf("%s: no EnvironmentFile=%s", where, envFilePath)
		}
		if u.last("Install", "WantedBy") == "" {
			t.Errorf("%s: no [Install] WantedBy=: systemctl enable does nothing", where)
		}
	}
}

// --- 4. the tools, where they are installed -------------------------------

func TestSystemdAnalyzeVerify(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not on the PATH")
	}
	// The units run /usr/local/bin/realname, which verify requires to exist:
	// verify copies whose ExecStart runs a stub instead.
	dir := t.TempDir()
	stub := filepath.Join(dir, "realname")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"realname-api.service", "realname-worker@.service", "realname-worker@9464.service"} {
		src := strings.Replace(name, "@9464", "@", 1)
		b := bytes.ReplaceAll(readFile(t, "systemd/"+src), []byte(binPath), []byte(stub))
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", "--man=no", path).CombinedOutput()
		cancel()
		// verify exits 0 on unknown keys and bad values; it names the file.
		var complaints []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, name) {
				complaints = append(complaints, strings.ReplaceAll(line, dir+"/", ""))
			}
		}
		if err != nil || len(complaints) > 0 {
			t.Errorf("deploy/systemd/%s: systemd-analyze verify (%v):\n%s", src, err, strings.Join(complaints, "\n"))
		}
	}
}

func TestComposeConfig(t *testing.T) {
	t.Parallel()
	var argv []string
	if _, err := exec.LookPath("docker"); err == nil {
		// The compose plugin, if installed, needs no running engine for config.
		if exec.Command("docker", "compose", "version").Run() == nil {
			argv = []string{"docker", "compose"}
		}
	}
	if argv == nil {
		if _, err := exec.LookPath("docker-compose"); err == nil {
			argv = []string{"docker-compose"}
		}
	}
	if argv == nil {
		t.Skip("neither docker compose nor docker-compose is installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "-f", "compose.yaml", "config", "-q")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("deploy/compose.yaml: %s config -q: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// --- Dockerfile -----------------------------------------------------------

type dockerfile struct{ stages []stage }

type stage struct {
	name   string // the AS name, or the index
	from   string
	instrs []instr
}

type instr struct {
	cmd  string // upper case
	args string
	line int
}

func (d dockerfile) final() stage { return d.stages[len(d.stages)-1] }

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(t *testing.T, rel string) dockerfile {
	t.Helper()
	var df dockerfile
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, rel)))
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := instr{strings.ToUpper(cmd), strings.TrimSpace(args), start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{name: strconv.Itoa(len(df.stages)), from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			df.stages = append(df.stages, st)
			continue
		}
		if len(df.stages) == 0 {
			continue // ARG before the first FROM
		}
		df.stages[len(df.stages)-1].instrs = append(df.stages[len(df.stages)-1].instrs, in)
	}
	if len(df.stages) == 0 {
		t.Fatalf("deploy/%s: no FROM", rel)
	}
	return df
}

// dockerEnv returns the key-value pairs of an ENV instruction.
func dockerEnv(args string) [][2]string {
	f := splitQuoted(args)
	if len(f) > 0 && !strings.Contains(f[0], "=") { // ENV KEY value
		return [][2]string{{f[0], strings.Join(f[1:], " ")}}
	}
	var out [][2]string
	for _, kv := range f {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// splitQuoted splits on blanks outside double quotes, dropping the quotes.
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if have {
				out = append(out, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// --- compose ----------------------------------------------------------------

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image           string                       `yaml:"image"`
	Build           any                          `yaml:"build"`
	Command         stringOrList                 `yaml:"command"`
	Environment     envMapOrList                 `yaml:"environment"`
	DependsOn       dependsOn                    `yaml:"depends_on"`
	StopGracePeriod string                       `yaml:"stop_grace_period"`
	Restart         string                       `yaml:"restart"`
	Volumes         []string                     `yaml:"volumes"`
	Healthcheck     *struct{ Test stringOrList } `yaml:"healthcheck"`
}

// isRealname reports whether the service runs the realname image.
func (s composeService) isRealname() bool {
	return s.Build != nil || strings.HasPrefix(s.Image, "realname")
}

// stringOrList is a compose command: a list, or a string split on blanks.
type stringOrList []string

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	return n.Decode((*[]string)(s))
}

// envMapOrList is a compose environment: a map, or a list of KEY=value.
type envMapOrList map[string]string

func (e *envMapOrList) UnmarshalYAML(n *yaml.Node) error {
	*e = map[string]string{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	var m map[string]*string
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if v != nil {
			(*e)[k] = *v
		} else {
			(*e)[k] = "" // passed through from the host: maybe unset
		}
	}
	return nil
}

// dependsOn is a compose depends_on, list or map: service → condition.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = map[string]string{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = "service_started"
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*d)[k] = cmp.Or(v.Condition, "service_started")
	}
	return nil
}

func loadCompose(t *testing.T, rel string) composeFile {
	t.Helper()
	var cf composeFile
	if err := yaml.Unmarshal(readFile(t, rel), &cf); err != nil {
		t.Fatalf("deploy/%s: %v", rel, err)
	}
	if len(cf.Services) == 0 {
		t.Fatalf("deploy/%s: no services", rel)
	}
	return cf
}

// --- Kubernetes -------------------------------------------------------------

type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type k8sObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sDeployment struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		Replicas *int          `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds *int64           `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               *securityContext `yaml:"securityContext"`
				Containers                    []container      `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	Capabilities             *struct {
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional bool   `yaml:"optional"`
}

type nameRef struct {
	Name string `yaml:"name"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

type container struct {
	Name    string          `yaml:"name"`
	Image   string          `yaml:"image"`
	Command []string        `yaml:"command"`
	Args    []string        `yaml:"args"`
	Ports   []containerPort `yaml:"ports"`
	EnvFrom []struct {
		Prefix       string   `yaml:"prefix"`
		ConfigMapRef *nameRef `yaml:"configMapRef"`
		SecretRef    *nameRef `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
			ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext *securityContext `yaml:"securityContext"`
}

// portNumber resolves a port number or name to the number, as a string;
// "" when the container has no such port.
func (c container) portNumber(port string) string {
	for _, p := range c.Ports {
		if p.Name == port || strconv.Itoa(p.ContainerPort) == port {
			return strconv.Itoa(p.ContainerPort)
		}
	}
	return ""
}

type k8sService struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sPDB struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		MinAvailable   *string       `yaml:"minAvailable"`
		MaxUnavailable *string       `yaml:"maxUnavailable"`
		Selector       labelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

// inFile is a Kubernetes object and the file it is in.
type inFile[T any] struct {
	file string
	obj  T
}

type k8sFiles struct {
	deployments []inFile[k8sDeployment]
	services    []inFile[k8sService]
	pdbs        []inFile[k8sPDB]
	configMaps  []inFile[k8sObject]
	secrets     []inFile[k8sObject]
}

func loadK8s(t *testing.T, dir string) k8sFiles {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("deploy/%s: no manifests (%v)", dir, err)
	}
	var k k8sFiles
	for _, f := range files {
		docs, err := yamlDocs(f)
		if err != nil {
			t.Fatalf("deploy/%s: %v", f, err)
		}
		for _, doc := range docs {
			var obj k8sObject
			if err := doc.Decode(&obj); err != nil {
				t.Fatalf("deploy/%s: %v", f, err)
			}
			var err error
			switch obj.Kind {
			case "Deployment":
				err = decodeInto(doc, f, &k.deployments)
			case "Service":
				err = decodeInto(doc, f, &k.services)
			case "PodDisruptionBudget":
				err = decodeInto(doc, f, &k.pdbs)
			case "ConfigMap":
				k.configMaps = append(k.configMaps, inFile[k8sObject]{f, obj})
			case "Secret":
				k.secrets = append(k.secrets, inFile[k8sObject]{f, obj})
			}
			if err != nil {
				t.Fatalf("deploy/%s: %s %s: %v", f, obj.Kind, obj.Metadata.Name, err)
			}
		}
	}
	return k
}

func decodeInto[T any](doc *yaml.Node, file string, list *[]inFile[T]) error {
	var obj T
	if err := doc.Decode(&obj); err != nil {
		return err
	}
	*list = append(*list, inFile[T]{file, obj})
	return nil
}

// configMapData returns the data of the named ConfigMap, nil if there is none.
func (k k8sFiles) configMapData(name string) map[string]string {
	for _, cm := range k.configMaps {
		if cm.obj.Metadata.Name == name {
			if cm.obj.Data == nil {
				return map[string]string{}
			}
			return cm.obj.Data
		}
	}
	return nil
}

// secretKeys returns the keys of the named Secret, nil if there is none.
func (k k8sFiles) secretKeys(name string) map[string]bool {
	for _, s := range k.secrets {
		if s.obj.Metadata.Name == name {
			keys := map[string]bool{}
			for key := range s.obj.Data {
				keys[key] = true
			}
			for key := range s.obj.StringData {
				keys[key] = true
			}
			return keys
		}
	}
	return nil
}

// container returns the Deployment and container that run the subcommand.
func (k k8sFiles) container(t *testing.T, subcommand string) (inFile[k8sDeployment], container) {
	t.Helper()
	for _, dep := range k.deployments {
		for _, c := range dep.obj.Spec.Template.Spec.Containers {
			if slices.Contains(c.Args, subcommand) || slices.Contains(c.Command, subcommand) {
				return dep, c
			}
		}
	}
	t.Fatalf("deploy/k8s: no Deployment runs realname %s", subcommand)
	return inFile[k8sDeployment]{}, container{}
}

// yamlDocs returns the documents of a YAML file.
func yamlDocs(path string) ([]*yaml.Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

// --- systemd ----------------------------------------------------------------

// unit is a parsed unit file: section → key → values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, rel string) unit {
	t.Helper()
	u := unit{}
	section := ""
	var cont strings.Builder
	for i, raw := range strings.Split(string(readFile(t, rel)), "\n") {
		line := strings.TrimSpace(raw)
		if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont.WriteString(l + " ")
			continue
		}
		cont.WriteString(line)
		line = cont.String()
		cont.Reset()
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("deploy/%s:%d: not KEY=value in a [section]: %q", rel, i+1, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	return u
}

func (u unit) values(section, key string) []string { return u[section][key] }

// last returns the setting in force: the last one.
func (u unit) last(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// execStart returns the argv of ExecStart, without its prefixes (-@+!:).
func (u unit) execStart() []string {
	argv := strings.Fields(u.last("Service", "ExecStart"))
	if len(argv) > 0 {
		argv[0] = strings.TrimLeft(argv[0], "-@+!:")
	}
	return argv
}

// environment returns the Environment= assignments in order.
func (u unit) environment() [][2]string {
	var out [][2]string
	for _, v := range u.values("Service", "Environment") {
		for _, kv := range splitQuoted(v) {
			k, val, _ := strings.Cut(kv, "=")
			out = append(out, [2]string{k, val})
		}
	}
	return out
}

// envLine is one KEY=value line of an environment file.
type envLine struct {
	key, value string
	line       int
}

// parseEnvFile reads a systemd EnvironmentFile: KEY=value lines, # and ;
// comments, values optionally quoted.
func parseEnvFile(t *testing.T, rel string) []envLine {
	t.Helper()
	var out []envLine
	for i, raw := range strings.Split(string(readFile(t, rel)), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(k, " \t") {
			t.Errorf("deploy/%s:%d: not KEY=value: %q", rel, i+1, line)
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		out = append(out, envLine{k, v, i + 1})
	}
	return out
}

var spanRe = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*([a-z]*)`)

// systemdDuration parses a systemd time span: "45", "45s", "1min 30s".
func systemdDuration(s string) (time.Duration, error) {
	units := map[string]time.Duration{
		"": time.Second, "s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
		"ms": time.Millisecond, "msec": time.Millisecond,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	}
	if strings.TrimSpace(s) == "infinity" {
		return time.Duration(1<<63 - 1), nil
	}
	var total time.Duration
	rest := s
	for strings.TrimSpace(rest) != "" {
		m := spanRe.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("not a time span: %q", s)
		}
		unit, ok := units[m[2]]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q in %q", m[2], s)
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		total += time.Duration(f * float64(unit))
		rest = rest[len(m[0]):]
	}
	return total, nil
}

// --- small helpers ------------------------------------------------------------

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
