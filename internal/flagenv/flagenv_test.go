package flagenv

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", ":8080", "")
	size := fs.Int("pool-size", 4, "")
	mode := fs.String("socket-mode", "0660", "")
	other := fs.Bool("other", false, "")
	if err := fs.Parse([]string{"--listen", ":9090"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"P_LISTEN":      ":7070", // the command line wins
		"P_POOL_SIZE":   "9",
		"P_SOCKET_MODE": "",  // empty is unset
		"POOL_SIZE":     "1", // another prefix
	}
	set, err := Apply(fs, "P_", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if *listen != ":9090" || *size != 9 || *mode != "0660" || *other {
		t.Errorf("listen %q, pool-size %d, socket-mode %q, other %v", *listen, *size, *mode, *other)
	}
	if !set["listen"] || !set["pool-size"] || set["socket-mode"] || set["other"] || len(set) != 2 {
		t.Errorf("set %v", set)
	}
}

func TestApplyBadValue(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("a-size", 1, "")
	b := fs.Int("b-size", 1, "")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"P_A_SIZE": "many", "P_B_SIZE": "3"}
	_, err := Apply(fs, "P_", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "environment P_A_SIZE") || !strings.Contains(err.Error(), "many") {
		t.Fatalf("%v, want an error naming P_A_SIZE and the value", err)
	}
	if *b != 1 {
		t.Errorf("b-size %d: a flag after the bad one was set", *b)
	}
}

func TestName(t *testing.T) {
	if got := Name("NMIGW_", "exporter-max-age"); got != "NMIGW_EXPORTER_MAX_AGE" {
		t.Errorf("Name = %q", got)
	}
}
