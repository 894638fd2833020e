package metrics

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// RouteUnmatched is the route label of requests no route matched (404,
// 405 of the router): the raw path never becomes a label.
const RouteUnmatched = "unmatched"

// HTTP holds the gateway's HTTP metrics. Its Middleware labels requests
// with chi's route pattern, read after the handler ran.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	size     *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewHTTP creates the HTTP metrics and registers them with reg.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	m := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nmigw_http_requests_total",
			Help: "HTTP requests answered, by chi route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nmigw_http_request_duration_seconds",
			Help:    "Time from receiving an HTTP request to the end of its answer, by route pattern and method; event streams (text/event-stream) are not observed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nmigw_http_response_size_bytes",
			Help:    "Bytes of HTTP answer bodies, by route pattern and method; event streams (text/event-stream) are not observed.",
			Buckets: prometheus.ExponentialBuckets(256, 4, 10), // 256 B .. 64 MiB
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "nmigw_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	if err := register(reg, m.requests, m.duration, m.size, m.inFlight); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers every collector, stopping at the first error.
func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Middleware measures every request. It works both inside a chi router
// (r.Use) and around one: outside, it gives the request the chi routing
// context the router then fills, so the route pattern is known after the
// handler ran. A panic is counted as a 500 and passed on. An answer sent
// as text/event-stream (Server-Sent Events) is counted, but its duration
// and size, which grow with the lifetime of the stream, stay out of the
// latency and size histograms.
func (m *HTTP) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx := chi.RouteContext(r.Context())
		if rctx == nil {
			rctx = chi.NewRouteContext()
			r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		}
		start := time.Now()
		m.inFlight.Inc()
		rw := &responseWriter{ResponseWriter: w}
		panicked := true
		defer func() {
			m.inFlight.Dec()
			code := rw.status
			switch {
			case panicked && code == 0:
				code = http.StatusInternalServerError
			case code == 0:
				code = http.StatusOK
			}
			route := rctx.RoutePattern()
			if route == "" {
				route = RouteUnmatched
			}
			method := methodLabel(r.Method)
			m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
			if !rw.stream {
				m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
				m.size.WithLabelValues(route, method).Observe(float64(rw.bytes))
			}
		}()
		next.ServeHTTP(rw, r)
		panicked = false
	})
}

// methodLabel keeps the label's values to the methods HTTP defines, so a
// client cannot create series at will.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// responseWriter records the status, whether the answer is an event
// stream, and the body size. Flush is passed on (server-sent events);
// Unwrap lets http.ResponseController reach the rest.
type responseWriter struct {
	http.ResponseWriter
	status int
	stream bool // sent as text/event-stream
	bytes  int64
}

// begin records the final status and the Content-Type the header is sent
// with, the first time either is known.
func (w *responseWriter) begin(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	w.stream = mt == "text/event-stream"
}

func (w *responseWriter) WriteHeader(code int) {
	if code >= 200 {
		w.begin(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.begin(http.StatusOK)
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) Flush() {
	w.begin(http.StatusOK)
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ http.Flusher = (*responseWriter)(nil)
