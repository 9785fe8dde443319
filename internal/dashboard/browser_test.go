package dashboard_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/dashboard"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
	"github.com/realname-io/realname/internal/store"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/producer/httpapi"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// chromium finds Debian's Chromium; CI installs it (.ci/run), so there a
// missing browser fails the test instead of skipping it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH: .ci/run should have installed Debian's chromium")
	}
	t.Skip("no Chromium on PATH (apt-get install chromium)")
	return ""
}

// TestDashboardInBrowser opens the dashboard in headless Chromium after a
// batch was enqueued: it signs in with a read key, sees the queues listed,
// opens a task's page and finds its payload masked, with no raw ID number
// anywhere on the pages; it saves a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	browser := chromium(t)
	db := redistest.New(t)
	rdb := db.Client(t)
	codec, _ := task.NewCodec(keyring.Ephemeral())
	results, _ := store.NewRedis(rdb, store.RedisConfig{})
	prod, err := producer.New(producer.Config{Redis: rdb, Store: results, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	var entries []sample.Entry
	for e := range sample.Generate(12, 31) {
		entries = append(entries, e)
	}
	for i, e := range entries {
		p := producer.Bulk
		if i%3 == 0 {
			p = producer.Signup
		}
		if _, err := prod.Enqueue(ctx, producer.Request{Kind: "bankcard4", OrderNo: e.OrderNo, Name: e.Name, IDNumber: e.IDNumber,
			Phone: e.Phone, BankCard: e.BankCard}, &producer.Opts{Priority: p, Batch: "browser"}); err != nil {
			t.Fatal(err)
		}
	}
	readOnly, admin := dashboard.Handlers(asynq.RedisClientOpt{Addr: db.Addr, DB: db.Index})
	api, err := httpapi.New(httpapi.Config{Redis: rdb, Producer: prod, Store: results, Monitoring: readOnly, MonitoringAdmin: admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	_, key, err := apikey.New(rdb).Create(ctx, "browser", []apikey.Scope{apikey.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	taskID := "vrf:" + entries[1].OrderNo // a bulk job
	var queuesText, taskText, listText string
	var shot []byte
	err = chromedp.Run(bctx,
		// Without a key the dashboard sends a person to the sign-in page.
		chromedp.Navigate(srv.URL+"/monitoring/"),
		chromedp.WaitVisible(`input[name="key"]`),
		chromedp.SendKeys(`input[name="key"]`, key),
		chromedp.Submit(`input[name="key"]`),
		chromedp.WaitVisible(`//*[contains(text(), "signup")]`),
		chromedp.WaitVisible(`//*[contains(text(), "bulk")]`),
		chromedp.Text("body", &queuesText),
		chromedp.Navigate(srv.URL+"/monitoring/queues/bulk?status=pending"),
		chromedp.WaitVisible(`//*[contains(text(), "`+entries[1].OrderNo+`")]`),
		chromedp.Sleep(500*time.Millisecond),
		chromedp.Text("body", &listText),
		chromedp.Navigate(srv.URL+"/monitoring/queues/bulk/tasks/"+taskID),
		chromedp.WaitVisible(`//*[contains(text(), "idNumber")]`),
		chromedp.Text("body", &taskText),
		chromedp.FullScreenshot(&shot, 100),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	dir := os.Getenv("REALNAME_SCREENSHOT_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "realname-dashboard-task.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	for _, q := range []string{"signup", "bulk"} {
		if !strings.Contains(queuesText, q) {
			t.Errorf("the queues page does not list %s", q)
		}
	}
	e := entries[1]
	masked := e.IDNumber[:6] + "********" + e.IDNumber[14:]
	if !strings.Contains(taskText, masked) {
		t.Errorf("the task page does not show the masked ID %s:\n%s", masked, taskText)
	}
	for _, page := range []string{queuesText, listText, taskText} {
		for _, en := range entries {
			for _, secret := range []string{en.IDNumber, en.Name, en.Phone, en.BankCard} {
				if strings.Contains(page, secret) {
					t.Fatalf("raw personal data of %s on a dashboard page", en.OrderNo)
				}
			}
		}
	}
}
