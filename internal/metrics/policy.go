package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PolicyReload exports the outcome of the last policy load (at start or
// on SIGHUP): a reload that fails keeps the policy in force, and says so
// here as well as in the log.
type PolicyReload struct {
	success, last prometheus.Gauge
}

// NewPolicyReload registers nmigw_policy_reload_success and
// nmigw_policy_reload_success_timestamp_seconds with reg; the policy
// loaded at start counts as a successful load at now.
func NewPolicyReload(reg prometheus.Registerer, now time.Time) (*PolicyReload, error) {
	p := &PolicyReload{
		success: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nmigw_policy_reload_success",
			Help: "1 when the last load of the policy file (at start or on SIGHUP) succeeded; 0 when it failed and the policy loaded before stays in force."}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nmigw_policy_reload_success_timestamp_seconds",
			Help: "Time of the last successful load of the policy file, in seconds since the epoch."}),
	}
	if err := register(reg, p.success, p.last); err != nil {
		return nil, err
	}
	p.Observe(nil, now)
	return p, nil
}

// Observe records a load at t that ended in err (nil: success).
func (p *PolicyReload) Observe(err error, t time.Time) {
	if err != nil {
		p.success.Set(0)
		return
	}
	p.success.Set(1)
	p.last.Set(float64(t.UnixNano()) / 1e9)
}
