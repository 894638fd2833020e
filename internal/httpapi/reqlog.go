package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
)

// logInfo is what the access log line tells beyond the request itself:
// the caller and the NMI's answers. The access log puts it in the request
// context; authentication and the NMI calls fill it in.
type logInfo struct {
	mu        sync.Mutex
	principal string
	exchanges int
	msg       nmi.MsgType
	rc        nmi.ReturnCode
	rsn       nmi.ReasonCode
	failed    bool // the codes kept are of an exchange that did not end with return code 0
}

type logInfoKey struct{}

func withLogInfo(r *http.Request, li *logInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), logInfoKey{}, li))
}

func logInfoFrom(ctx context.Context) *logInfo {
	li, _ := ctx.Value(logInfoKey{}).(*logInfo)
	return li
}

// exchange records one NMI exchange. The codes kept are those of the last
// exchange that failed, or else of the last exchange.
func (li *logInfo) exchange(t nmi.MsgType, h nmi.Header, err error) {
	rc, rsn := h.Rc, h.Rsn
	var se *nmi.StatusError
	if errors.As(err, &se) {
		rc, rsn = se.Rc, se.Rsn
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	li.exchanges++
	if err == nil && li.failed {
		return
	}
	li.msg, li.rc, li.rsn, li.failed = t, rc, rsn, err != nil
}

// attrs are the access log's attributes: principal (the user ID, never a
// credential) and, when the request used the NMI, the number of exchanges
// and the request type, return and reason code kept.
func (li *logInfo) attrs() []slog.Attr {
	li.mu.Lock()
	defer li.mu.Unlock()
	var out []slog.Attr
	if li.principal != "" {
		out = append(out, slog.String("principal", li.principal))
	}
	if li.exchanges > 0 {
		out = append(out, slog.Group("nmi", slog.Int("exchanges", li.exchanges), slog.String("type", li.msg.String()),
			slog.String("rc", li.rc.String()), slog.String("rsn", li.rsn.String())))
	}
	return out
}

// notePrincipal tells the access log who the authenticated caller is.
func notePrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if li := logInfoFrom(r.Context()); li != nil {
			if p, ok := authz.PrincipalFrom(r.Context()); ok {
				li.mu.Lock()
				li.principal = p.User
				li.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loggedNMI tells the access log of the request in ctx about every
// exchange.
type loggedNMI struct{ NMI }

func (l loggedNMI) Do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) (nmi.Header, error) {
	h, err := l.NMI.Do(ctx, req, fn)
	if li := logInfoFrom(ctx); li != nil {
		li.exchange(req.Type, h, err)
	}
	return h, err
}
