package nmi

// Helpers of the package's tests for its external tests (package
// nmi_test, which may import the simulator).

// WaitFor is waitFor.
var WaitFor = waitFor
