package httpapi

// NewFake exposes the failure-injecting NMI to the external test package.
func NewFake() *fakeNMI { return newFake() }

// SecretText is the text of the fake's internal error.
const SecretText = secretText
