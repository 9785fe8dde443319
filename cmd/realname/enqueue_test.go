package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/sample"
)

// TestEnqueueCommand runs `realname enqueue` on a file with bad rows, runs
// it again (resume), and reads the batch back with status, list and export.
func TestEnqueueCommand(t *testing.T) {
	db := redistest.New(t)
	dir := t.TempDir()
	var csv bytes.Buffer
	if err := sample.WriteCSV(&csv, sample.Generate(300, 4)); err != nil {
		t.Fatal(err)
	}
	csv.WriteString("BAD-1,张三,110105194912310021,,\r\n") // wrong check digit, CRLF
	csv.WriteString("BAD-2,,11010519491231002X,,\n")     // empty name
	file := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(file, append([]byte("\ufeff"), csv.Bytes()...), 0o600); err != nil { // with a BOM
		t.Fatal(err)
	}
	rejects := filepath.Join(dir, "rejects.csv")
	args := []string{"enqueue", "--redis-url", db.URL(), "--batch", "cli", "--kind", "idcard", "--rejects", rejects, "--progress", "none", file}
	out, err := runCmd(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"read 302 rows", "enqueued  300", "present   0", "rejected  2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("first run output lacks %q:\n%s", want, out)
		}
	}
	rej, _ := os.ReadFile(rejects)
	if !strings.Contains(string(rej), "302,idNumber,check digit does not match") || !strings.Contains(string(rej), "303,name,is required") {
		t.Fatalf("rejects:\n%s", rej)
	}
	if strings.Contains(string(rej), "110105194912310021") {
		t.Fatal("a rejected value was written to the rejects file")
	}

	out, err = runCmd(t, args...)
	if err != nil || !strings.Contains(out, "enqueued  0") || !strings.Contains(out, "present   300") {
		t.Fatalf("second run: %v\n%s", err, out)
	}

	out, err = runCmd(t, "batch", "status", "cli", "--redis-url", db.URL())
	if err != nil || !strings.Contains(out, "0 done of 300") || !strings.Contains(out, "state      sealed") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = runCmd(t, "batch", "list", "--redis-url", db.URL())
	if err != nil || !strings.Contains(out, "cli") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runCmd(t, "batch", "export", "cli", "--redis-url", db.URL(), "--format", "csv")
	if err != nil || strings.Count(out, "\n") != 301 || !strings.Contains(out, ",pending,") {
		t.Fatalf("export: %v, %d lines", err, strings.Count(out, "\n"))
	}
	out, err = runCmd(t, "batch", "export", "cli", "--redis-url", db.URL(), "--format", "jsonl")
	if err != nil || strings.Count(out, "\n") != 300 {
		t.Fatalf("export jsonl: %v, %d lines", err, strings.Count(out, "\n"))
	}
	out, err = runCmd(t, "batch", "cancel", "cli", "--redis-url", db.URL())
	if err != nil || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: %v\n%s", err, out)
	}
}

func TestEnqueueInputErrors(t *testing.T) {
	db := redistest.New(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noPhone := write("nophone.csv", []byte("orderNo,name,idNumber\nA-1,张三丰,11010519491231002X\n"))
	_, err := runCmd(t, "enqueue", "--redis-url", db.URL(), "--batch", "m3", "--kind", "mobile3", "--progress", "none",
		"--rejects", filepath.Join(dir, "r.csv"), noPhone)
	if err == nil || !strings.Contains(err.Error(), "phoneNumber") {
		t.Fatalf("header without phoneNumber for mobile3: %v", err)
	}

	// A GBK-encoded file is detected and read.
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("orderNo,name,idNumber\nG-1,张三丰,11010519491231002X\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "enqueue", "--redis-url", db.URL(), "--batch", "gbk", "--kind", "idcard", "--progress", "none",
		"--rejects", filepath.Join(dir, "r2.csv"), write("gbk.csv", gbk))
	if err != nil || !strings.Contains(out, "enqueued  1") {
		t.Fatalf("GBK file: %v\n%s", err, out)
	}

	_, err = runCmd(t, "enqueue", "--redis-url", db.URL(), "--batch", "bad name", "--kind", "idcard", noPhone)
	if err == nil || !strings.Contains(err.Error(), "--batch") {
		t.Fatalf("bad batch name: %v", err)
	}
}

// TestEnqueueCallbackURL: `realname enqueue` refuses a --callback-url (or a
// default webhook URL) that the workers' policy would not deliver to,
// naming the flag, before it reads the file or touches Redis.
func TestEnqueueCallbackURL(t *testing.T) {
	db := redistest.New(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "people.csv")
	if err := os.WriteFile(file, []byte("orderNo,name,idNumber\nCB-1,张三丰,11010519491231002X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"enqueue", "--redis-url", db.URL(), "--batch", "cb", "--kind", "idcard", "--progress", "none",
		"--rejects", filepath.Join(dir, "r.csv")}
	for _, cb := range []string{"http://10.0.0.1/x", "https://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/",
		"https://127.0.0.1:6379/", "https://localhost/x", "http://hooks.example.com/x", "not-a-url", "https://u:p@hooks.example.com/x"} {
		_, err := runCmd(t, append(base, "--callback-url", cb, file)...)
		if err == nil || !strings.Contains(err.Error(), "--callback-url") {
			t.Errorf("--callback-url %s: %v, want an error naming --callback-url", cb, err)
		}
	}
	if n, _ := db.Client(t).Exists(t.Context(), "realname:batch:cb").Result(); n != 0 {
		t.Error("a refused enqueue opened the batch")
	}
	// Allowlisted, loopback over http passes the check.
	_, err := runCmd(t, append(base, "--webhook-allow", "127.0.0.0/8", "--callback-url", "http://127.0.0.1:9/cb", file)...)
	if err != nil && strings.Contains(err.Error(), "callback") {
		t.Errorf("an allowlisted loopback --callback-url: %v", err)
	}
	t.Logf("with loopback allowlisted: %v", err) // nil, or what follows the check (the key ring)
	_, err = runCmd(t, append(base, "--webhook-url", "http://10.0.0.1/x", file)...)
	if err == nil || !strings.Contains(err.Error(), "REALNAME_WEBHOOK_URL") {
		t.Errorf("a private default webhook URL: %v, want an error naming REALNAME_WEBHOOK_URL", err)
	}
	_, err = runCmd(t, append(base, "--webhook-allow", "10.0.0.0/99", file)...)
	if err == nil || !strings.Contains(err.Error(), "REALNAME_WEBHOOK_ALLOW") {
		t.Errorf("a bad allowlist: %v, want an error naming REALNAME_WEBHOOK_ALLOW", err)
	}
}
