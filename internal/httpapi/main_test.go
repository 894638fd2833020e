package httpapi

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when goroutines outlive them: an
// event poller, a stream or a pool's prober left behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
