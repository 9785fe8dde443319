package harness

import (
	"strings"
	"testing"
)

func TestWarningNotes(t *testing.T) {
	t.Parallel()
	ps := []Exit{
		{Name: "worker-quota-10w-1", Warnings: map[string]int{"warn: throttled": 2}},
		{Name: "worker-quota-10w-2", Warnings: map[string]int{"warn: throttled": 1, "error: boom": 1}},
		{Name: "worker-quota-10w-3"},
		{Name: "sandbox-quota", Warnings: map[string]int{"warn: slow": 1}},
	}
	got := WarningNotes(ps)
	want := []string{
		"sandbox-quota (1 process(es)) logged 1× warn: slow",
		"worker-quota-10w (2 process(es)) logged 1× error: boom",
		"worker-quota-10w (2 process(es)) logged 3× warn: throttled",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("WarningNotes =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
