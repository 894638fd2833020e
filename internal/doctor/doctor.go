// Package doctor is the field check behind `gateway doctor`: it talks to
// an IKE daemon over any connection, sends NMsec_INIT's partner requests
// and one of each display request, never a control request, and compares
// every byte of the answers with the layout this build expects. The
// report is plain text for a z/OS network person: an annotated hex dump of
// every message, every check that failed, a verdict per request and a
// summary table.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// Options configure a run.
type Options struct {
	Stack string // stack to ask the per-stack requests of; "": the first NMsec_GET_STACKINFO lists
	// NSS checks an NSS server's NMI (/var/sock/nss) instead of IKED's:
	// NMsec_GET_CLIENTINFO (IPSec clients) in place of the system-wide
	// requests, which the NSS server does not route, then the per-stack
	// requests with NMsMTarget the client named by Stack (default: the
	// first client listed).
	NSS bool
	// DumpRecords is how many records of each answer are dumped field by
	// field (all are checked); default 3.
	DumpRecords int
	// Redact replaces addresses and names in every message before it is
	// checked, dumped or recorded.
	Redact bool
	// Record, when set, is given every message sent and received, in
	// order (a capture tee), after redaction.
	Record func(send bool, msg []byte)
	// Timeout bounds each exchange; default 30s.
	Timeout time.Duration
}

// Exchange is one request and what came back.
type Exchange struct {
	Type     nmi.MsgType
	Target   string
	Request  []byte
	Response []byte   // nil when none came
	Err      error    // transport failure, if any
	Records  int      // records in the answer
	Findings []string // checks that failed, each "offset N (field): expected ..., got ..."
	Notes    []string // what the answer shows about readings the layout leaves open
	walk     *walker
}

// Verdict is "matches", or where the answer first differs.
func (e *Exchange) Verdict() string {
	switch {
	case e.Err != nil:
		return "no answer: " + e.Err.Error()
	case len(e.Findings) == 0:
		return "matches"
	}
	return "differs at " + e.Findings[0]
}

// Result is a whole run.
type Result struct {
	Endpoint  string
	Version   uint16 // announced by NMsec_INIT
	Init      []byte
	InitFinds []string
	Stack     string
	Exchanges []*Exchange
	redactor  *redactor
}

// OK reports whether every message matched.
func (r *Result) OK() bool {
	if len(r.InitFinds) > 0 || r.Init == nil {
		return false
	}
	for _, e := range r.Exchanges {
		if e.Err != nil || len(e.Findings) > 0 {
			return false
		}
	}
	return true
}

// displayTypes are the per-stack display requests, in order.
var displayTypes = []nmi.MsgType{
	nmi.GetSummary, nmi.GetIPInterfaces, nmi.GetIPFltCurr, nmi.GetIPFltDefault, nmi.GetIPFltPolicy,
	nmi.GetIPTunManual, nmi.GetIPTunDynStack, nmi.GetIPTunDynIKE, nmi.GetIKETun, nmi.GetIKETunCascade, nmi.GetPortTrans,
}

// Run checks the IKE daemon at the other end of conn, which it closes.
// An error means the check could not start (no NMsec_INIT); everything
// else is in the Result.
func Run(ctx context.Context, conn net.Conn, endpoint string, o Options) (*Result, error) {
	defer conn.Close()
	if o.DumpRecords == 0 {
		o.DumpRecords = 3
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	r := &Result{Endpoint: endpoint}
	if o.Redact {
		r.redactor = newRedactor()
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	conn.SetDeadline(time.Now().Add(o.Timeout))
	init, err := readMessage(conn)
	if err != nil {
		return r, fmt.Errorf("waiting for NMsec_INIT from %s: %w", endpoint, err)
	}
	init = r.record(o, false, init, nmi.MsgInit)
	r.Init = init
	w := walk(init, nmi.MsgInit, false)
	checkFields(w)
	r.InitFinds = texts(w.findings)
	var h nmi.Header
	_ = h.UnmarshalBinary(init)
	r.Version = h.Version
	if h.Type != nmi.MsgInit {
		r.InitFinds = append(r.InitFinds, finding{off: fieldOff("NMsMType"), where: "header.NMsMType", want: "NMsec_INIT", got: h.Type.String()}.String())
		if h.Type == nmi.MsgTerm {
			return r, fmt.Errorf("%s refused the connection: TERM with rc %v, rsn %v", endpoint, h.Rc, h.Rsn)
		}
	}

	corr := uint32(0)
	// exchange runs req; it returns the answer as received (for the
	// stack's name) while the Exchange keeps the redacted copies.
	exchange := func(req *nmi.Request) (*Exchange, []byte) {
		corr++
		e := &Exchange{Type: req.Type, Target: req.Target}
		r.Exchanges = append(r.Exchanges, e)
		b, err := nmi.AppendRequest(nil, req, corr)
		if err != nil {
			e.Err = err
			return e, nil
		}
		conn.SetDeadline(time.Now().Add(o.Timeout))
		if _, err := conn.Write(b); err != nil {
			e.Err = ctxErr(ctx, err)
			return e, nil
		}
		e.Request = r.record(o, true, b, req.Type)
		if r.redactor != nil {
			e.Target = r.redactor.name(req.Target)
		}
		resp, err := readMessage(conn)
		if err != nil {
			e.Err = ctxErr(ctx, err)
			return e, nil
		}
		e.Response = r.record(o, false, resp, req.Type)
		e.walk = check(e.Response, e.Request, req.Type, corr, r.Version)
		e.Findings = texts(e.walk.findings)
		e.Notes = notes(e.walk)
		var rh nmi.Header
		_ = rh.UnmarshalBinary(resp)
		e.Records = int(rh.RecCount)
		return e, resp
	}

	stack := o.Stack
	if o.NSS {
		var ipsec nmi.InFilter
		ipsec.HasName = true
		_ = ipsec.Name.Set(nmi.DisciplineIPSec.String())
		_, clients := exchange(&nmi.Request{Type: nmi.GetClientInfo, Filters: []nmi.InFilter{ipsec}})
		if stack == "" {
			stack = firstClient(clients)
		}
	} else {
		_, stackInfo := exchange(&nmi.Request{Type: nmi.GetStackInfo})
		exchange(&nmi.Request{Type: nmi.GetIKENSInfo})
		if stack == "" {
			stack = firstStack(stackInfo)
		}
	}
	if stack == "" {
		return r, nil
	}
	r.Stack = stack
	if r.redactor != nil {
		r.Stack = r.redactor.name(stack)
	}
	for _, t := range displayTypes {
		e, _ := exchange(&nmi.Request{Type: t, Target: stack})
		if e.Err != nil {
			break // the connection is gone or out of step
		}
	}
	return r, nil
}

// record returns msg, or a redacted copy, and hands that to the recorder.
func (r *Result) record(o Options, send bool, msg []byte, t nmi.MsgType) []byte {
	if r.redactor != nil {
		msg = append([]byte(nil), msg...)
		r.redactor.message(msg, t, !send)
	}
	if o.Record != nil {
		o.Record(send, msg)
	}
	return msg
}

// firstStack is the first stack an NMsec_GET_STACKINFO answer lists.
func firstStack(msg []byte) string {
	var h nmi.Header
	if msg == nil || h.UnmarshalBinary(msg) != nil || h.RecCount == 0 {
		return ""
	}
	d := nmi.NewRecordDecoder(msg[h.RecOff:], int(h.RecCount))
	var sr nmi.StackRecord
	if d.Next() && sr.Decode(d.Record()) == nil {
		return sr.Stack.Name.String()
	}
	return ""
}

// firstClient is the first client an NMsec_GET_CLIENTINFO answer lists.
func firstClient(msg []byte) string {
	var h nmi.Header
	if msg == nil || h.UnmarshalBinary(msg) != nil || h.RecCount == 0 {
		return ""
	}
	d := nmi.NewRecordDecoder(msg[h.RecOff:], int(h.RecCount))
	var cr nmi.ClientInfoRecord
	if d.Next() && cr.Decode(d.Record()) == nil {
		return cr.ClientInfo.ClientName.String()
	}
	return ""
}

// errFraming: the answer cannot be read as a message at all.
var errFraming = errors.New("bytes that do not frame as an NMI message")

// readMessage reads one message by its header's size, without judging
// anything else (that is the checks' work).
func readMessage(r io.Reader) ([]byte, error) {
	hdr := make([]byte, nmi.HdrSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if _, v := get(nmi.HeaderLayout, "NMsMIdent", hdr); uint32(v) != nmi.MIdent {
		f := fieldOf(nmi.HeaderLayout, "NMsMIdent")
		return hdr, fmt.Errorf("%w: NMsMIdent %s, expected %s", errFraming, hex(hdr[f.Off:f.Off+f.Len]), hex(nmiBytes(nmi.MIdent)))
	}
	var h nmi.Header
	_ = h.UnmarshalBinary(hdr)
	if h.MsgSize < nmi.HdrSize || h.MsgSize > nmi.DefaultMaxResponseSize {
		return hdr, fmt.Errorf("%w: NMsMMsgSize %d", errFraming, h.MsgSize)
	}
	msg := make([]byte, h.MsgSize)
	copy(msg, hdr)
	if _, err := io.ReadFull(r, msg[nmi.HdrSize:]); err != nil {
		return nil, fmt.Errorf("reading %d bytes of NMsMMsgSize %d: %w", len(msg)-nmi.HdrSize, h.MsgSize, err)
	}
	return msg, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func texts(fs []finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// check runs every check on the answer msg to the request reqMsg of
// type t.
func check(msg, reqMsg []byte, t nmi.MsgType, corr uint32, version uint16) *walker {
	w := walk(msg, t, true)
	if len(msg) < nmi.HdrSize {
		return w
	}
	var h, rq nmi.Header
	_ = h.UnmarshalBinary(msg)
	_ = rq.UnmarshalBinary(reqMsg)
	if h.Type != t {
		w.add(finding{off: fieldOff("NMsMType"), where: "header.NMsMType", want: t.String(), got: h.Type.String()})
	}
	if h.Correlator != corr {
		w.add(finding{off: fieldOff("NMsMCorrelator"), where: "header.NMsMCorrelator", want: strconv.FormatUint(uint64(corr), 10) + " (the request's)", got: strconv.FormatUint(uint64(h.Correlator), 10)})
	}
	if h.Version != version {
		w.add(finding{off: fieldOff("NMsMVersion"), where: "header.NMsMVersion", want: strconv.Itoa(int(version)) + " (NMsec_INIT's)", got: strconv.Itoa(int(h.Version))})
	}
	if h.Rc != nmi.RcOK {
		w.add(finding{off: fieldOff("NMsMRc"), where: "header.NMsMRc", msg: "IKED answered rc " + h.Rc.String() + " (" + strconv.Itoa(int(h.Rc)) + "), rsn " + h.Rsn.String() + " (" + strconv.Itoa(int(h.Rsn)) + ")"})
	}
	if h.Target != rq.Target {
		w.add(finding{off: fieldOff("NMsMTarget"), where: "header.NMsMTarget", want: strconv.Quote(rq.Target.String()) + " (the request's)", got: strconv.Quote(h.Target.String())})
	}
	checkFields(w)
	if len(w.findings) == 0 {
		decodeCheck(w, msg, h, t)
	}
	return w
}

func fieldOff(name string) int { return fieldOf(nmi.HeaderLayout, name).Off }

// notes shows, for every NMsecInterface section, its flag byte and which
// reading of IBM's flag table it matches.
func notes(w *walker) []string {
	var out []string
	for _, b := range w.blocks {
		if b.layout.Name != nmi.InterfaceLayout.Name || len(b.b) < nmi.InterfaceIBMSize {
			continue
		}
		addr := b.b[fieldOf(nmi.InterfaceLayout, "NMsInterfaceAddr").Off:]
		ipv6 := !allZero(addr[:12])
		f := b.b[fieldOf(nmi.InterfaceLayout, "NMsInterfaceFlags").Off]
		out = append(out, b.path+": "+nmi.InterfaceFlagReading(f, ipv6))
	}
	return out
}
