package nmi

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when goroutines outlive them: a
// prober, a watcher or a test server left behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
