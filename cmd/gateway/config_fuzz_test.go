package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfigFile feeds any bytes as the --config file to parseConfig, the
// whole configuration path (file, then the checks). It must never panic;
// it gives a configuration that passes its own checks, or an error that
// names the file or the key at fault. Seeds: testdata/fuzz/FuzzConfigFile.
func FuzzConfigFile(f *testing.F) {
	var keys []string
	newFlagSet(&config{}, io.Discard).VisitAll(func(fl *flag.Flag) { keys = append(keys, fl.Name) })
	keys = append(keys, "systems")                     // the file key that is no flag
	path := filepath.Join(f.TempDir(), "gateway.yaml") // inputs run one at a time per process
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := parseConfig([]string{"--config", path}, func(string) string { return "" }, io.Discard)
		if err != nil {
			if c != nil && c.check() == nil {
				t.Errorf("error %v with a configuration that passes its checks", err)
			}
			if !namesFileOrKey(err.Error(), path, keys) {
				t.Errorf("error names neither the file nor a key: %v", err)
			}
			return
		}
		if c == nil || c.Config != path {
			t.Fatalf("configuration %+v", c)
		}
		if err := c.check(); err != nil {
			t.Errorf("accepted, but fails its checks: %v", err)
		}
	})
}

func namesFileOrKey(msg, path string, keys []string) bool {
	if strings.HasPrefix(msg, path+":") {
		return true
	}
	for _, k := range keys {
		if strings.HasPrefix(msg, k+":") || strings.HasPrefix(msg, k+" ") {
			return true
		}
	}
	return false
}
