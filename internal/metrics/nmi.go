package metrics

import (
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
	"github.com/prometheus/client_golang/prometheus"
)

// NMIObserver holds the NMI client metrics. The exchanges, codes and INIT
// waits of each system's pool carry the label system: give each pool
// System(name) as its nmi.PoolConfig.Observer.
type NMIObserver struct {
	exchanges *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	codes     *prometheus.CounterVec
	initWait  *prometheus.HistogramVec
	partial   *prometheus.CounterVec
}

// SystemObserver counts the exchanges of one system's nmi.Pool.
type SystemObserver struct {
	o      *NMIObserver
	system string
}

var (
	_ nmi.Observer     = (*SystemObserver)(nil)
	_ nmi.InitObserver = (*SystemObserver)(nil)
)

// Outcome label values of nmigw_nmi_init_wait_seconds.
const (
	initOK      = "ok"
	initRefused = "refused"
	initError   = "error"
)

// NewNMIObserver creates the NMI client metrics and registers them with
// reg.
func NewNMIObserver(reg prometheus.Registerer) (*NMIObserver, error) {
	o := &NMIObserver{
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nmigw_nmi_exchanges_total",
			Help: "NMI exchanges run through the pool, by request type (IBM name) and outcome " +
				"(ok, status, term, canceled, timeout, exhausted, unavailable, error).",
		}, []string{"system", "type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nmigw_nmi_exchange_duration_seconds",
			Help:    "Time of one NMI exchange through the pool (acquiring a connection, request, every record of the answer), by request type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"system", "type"}),
		codes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nmigw_nmi_status_codes_total",
			Help: "Nonzero NMI return and reason codes received (answers and TERMs), by request type, return code and reason code.",
		}, []string{"system", "type", "rc", "rsn"}),
		initWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nmigw_nmi_init_wait_seconds",
			Help:    "Time from connecting to the NMI socket to NMsec_INIT (or the refusal), by result (ok, refused, error).",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60},
		}, []string{"system", "result"}),
		partial: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nmigw_nmi_partial_records_total",
			Help: "NMI records received with a section holding IBM's published prefix only (its PROPOSED remainder absent), by system and section (IBM name).",
		}, []string{"system", "section"}),
	}
	if err := register(reg, o.exchanges, o.duration, o.codes, o.initWait, o.partial); err != nil {
		return nil, err
	}
	return o, nil
}

// exchangeTypes are the request types the gateway sends.
var exchangeTypes = func() []nmi.MsgType {
	var ts []nmi.MsgType
	for t := nmi.GetStackInfo; t <= nmi.LoadPolicy; t++ {
		if t.IsRequest() {
			ts = append(ts, t)
		}
	}
	return ts
}()

// Outcome label values of nmigw_nmi_exchanges_total.
const (
	outcomeOK          = "ok"          // answered with return code 0
	outcomeStatus      = "status"      // answered with a nonzero return code
	outcomeTerm        = "term"        // the server sent TERM
	outcomeCanceled    = "canceled"    // the caller's context was canceled
	outcomeTimeout     = "timeout"     // the caller's deadline passed, or the transport's
	outcomeExhausted   = "exhausted"   // no connection became free in time
	outcomeUnavailable = "unavailable" // IKED could not be reached (dial, refused, backoff)
	outcomeError       = "error"       // transport or protocol failure, or the callback's error
)

// exchangeOutcome is the outcome label of an exchange that failed with f.
func exchangeOutcome(f nmi.Failure) string {
	switch f.Class {
	case nmi.ClassOK:
		return outcomeOK
	case nmi.ClassStatus:
		return outcomeStatus
	case nmi.ClassTerm:
		return outcomeTerm
	case nmi.ClassCanceled:
		return outcomeCanceled
	case nmi.ClassDeadline, nmi.ClassTimeout:
		return outcomeTimeout
	case nmi.ClassExhausted:
		return outcomeExhausted
	case nmi.ClassUnavailable, nmi.ClassRefused:
		return outcomeUnavailable
	}
	return outcomeError
}

// System returns the observer of the pool of system (its MVS name).
// Outcomes and results known in advance start at zero for it, so that
// rates and alerts see them before the first occurrence.
func (o *NMIObserver) System(system string) *SystemObserver {
	for _, t := range exchangeTypes {
		o.exchanges.WithLabelValues(system, t.String(), outcomeOK)
		o.duration.WithLabelValues(system, t.String())
	}
	for _, r := range []string{initOK, initRefused, initError} {
		o.initWait.WithLabelValues(system, r)
	}
	for _, sec := range []string{nmi.SectionStack, nmi.SectionStatistics, nmi.SectionIPTunnel} {
		o.partial.WithLabelValues(system, sec)
	}
	return &SystemObserver{o: o, system: system}
}

// ObserveExchange implements nmi.Observer.
func (so *SystemObserver) ObserveExchange(ev nmi.ExchangeEvent) {
	o := so.o
	t := codeLabel(ev.Type.String())
	outcome := exchangeOutcome(ev.Failure)
	o.exchanges.WithLabelValues(so.system, t, outcome).Inc()
	o.duration.WithLabelValues(so.system, t).Observe(ev.Duration.Seconds())
	if se := ev.Failure.Status; se != nil && (outcome == outcomeStatus || outcome == outcomeTerm) {
		o.codes.WithLabelValues(so.system, t, codeLabel(se.Rc.String()), codeLabel(se.Rsn.String())).Inc()
	}
}

// ObserveInit records the wait for NMsec_INIT of one new connection: d
// from connecting to INIT (err nil), to a TERM refusing the connection
// (*nmi.StatusError with Refused), or to another failure.
func (so *SystemObserver) ObserveInit(d time.Duration, err error) {
	r := initOK
	switch nmi.Classify(err).Class {
	case nmi.ClassOK:
	case nmi.ClassRefused:
		r = initRefused
	default:
		r = initError
	}
	so.o.initWait.WithLabelValues(so.system, r).Observe(d.Seconds())
}

// ObservePartial counts n records whose section arrived with IBM's prefix
// only. Give it to httpapi.Deps.PartialRecords.
func (o *NMIObserver) ObservePartial(system, section string, n int) {
	o.partial.WithLabelValues(system, section).Add(float64(n))
}

// codeLabel bounds a label taken from a code's name: codes this build does
// not know (String gives "unknown(N)") share one value.
func codeLabel(s string) string {
	if strings.HasPrefix(s, "unknown(") {
		return "unknown"
	}
	return s
}
