package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/policy"
)

// simulator is an in-process iked-sim serving the demo data set on a
// private socket.
type simulator struct {
	Socket string
	stop   func(context.Context) error
}

// startSim starts the simulator on a socket in a new temporary directory.
// pol is the policy it checks its peers against (nil allows every peer).
func startSim(log *slog.Logger, pol func() *policy.Policy) (*simulator, error) {
	dir, err := os.MkdirTemp("", "nmigw-sim-")
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	path := filepath.Join(dir, "ipsecmgmt")
	ln, err := ikedsim.Listen(path, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sim: %w", err)
	}
	srv, err := ikedsim.NewServer(ikedsim.Config{
		Data:   ikedsim.Demo(),
		Policy: pol,
		Logger: log.With(slog.String("component", "iked-sim")),
	})
	if err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sim: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	stop := func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		select {
		case serr := <-done:
			if !errors.Is(serr, ikedsim.ErrServerClosed) && err == nil {
				err = serr
			}
		case <-time.After(5 * time.Second):
		}
		os.RemoveAll(dir)
		return err
	}
	return &simulator{Socket: path, stop: stop}, nil
}

// Stop shuts the simulator down and removes its directory.
func (s *simulator) Stop(ctx context.Context) error { return s.stop(ctx) }
