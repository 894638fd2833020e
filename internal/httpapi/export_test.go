package httpapi

import (
	"testing"

	"github.com/nmigw/nmigw/internal/nmi"
)

// NewFake exposes the fake NMI to the external test package.
func NewFake(t *testing.T) *fakeNMI { return newFake(t) }

// SetFilters sets the number of generated filter rules on every stack.
func (f *fakeNMI) SetFilters(n int) { f.nFilters = n }

// Requests returns the requests the fake has seen.
func (f *fakeNMI) Requests() []nmi.Request { return f.requests() }

// SecretText is the text of the fake's internal error.
const SecretText = secretText

// SetFailAfter makes the fake's connection break after n records.
func (f *fakeNMI) SetFailAfter(n int) { f.failAfter = n }
