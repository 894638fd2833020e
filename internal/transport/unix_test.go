package transport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nmigw/nmigw/internal/ikedsim"
)

func TestUnix(t *testing.T) {
	_, path := startSim(t, t.TempDir(), ikedsim.Config{})
	tr, err := Open("unix://"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Addr() != "unix://"+path {
		t.Errorf("Addr %q", tr.Addr())
	}
	readInit(t, dial(t, tr)).stackNames()

	missing, _ := Open(filepath.Join(t.TempDir(), "absent"), Options{})
	_, err = missing.Dial(context.Background())
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dial of a missing socket: %v", err)
	}
}
