package httpapi

import "time"

// NewFake exposes the failure-injecting NMI to the external test package.
func NewFake() *fakeNMI { return newFake() }

// ViewJoins is the number of requests answered by another request's
// rendering so far.
func ViewJoins() uint64 { return viewJoins.Load() }

// SecretText is the text of the fake's internal error.
const SecretText = secretText

// SetFleetHedge sets how long a fleet list waits on the stacks in flight
// before it asks one more, until the test ends.
func SetFleetHedge(t interface{ Cleanup(func()) }, d time.Duration) {
	old := fleetHedge
	fleetHedge = d
	t.Cleanup(func() { fleetHedge = old })
}
