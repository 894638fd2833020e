package ikedsim

import (
	"strings"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/nmi"
)

// dispatch checks the target and the peer's authority and returns the
// records answering req, or the return and reason codes of a failure.
func (c *conn) dispatch(req *nmi.Request) (recordSource, nmi.ReturnCode, nmi.ReasonCode) {
	if c.s.nss != nil {
		return c.dispatchNSS(req)
	}
	m := c.s.model
	t := req.Type
	switch t {
	case nmi.GetStackInfo, nmi.GetIKENSInfo:
		// System-wide: only the stacks the caller may display.
		var stacks []Stack
		for _, st := range m.Stacks() {
			if c.allowed(authz.Resource(m.System(), st.Name, authz.Display)) {
				stacks = append(stacks, st)
			}
		}
		if t == nmi.GetStackInfo {
			return stackInfoSource(stacks), nmi.RcOK, nmi.RsnNone
		}
		return nssSource(stacks), nmi.RcOK, nmi.RsnNone
	case nmi.GetClientInfo:
		// The NSS server's request: IKED does not know it.
		return nil, nmi.EINVAL, nmi.RsnBadType
	}
	if !m.HasStack(req.Target) {
		return nil, nmi.ENXIO, nmi.RsnNone
	}
	if !c.allowed(authz.Resource(m.System(), req.Target, kindOf(t))) {
		return nil, nmi.EACCES, nmi.RsnNone
	}
	return answer(m, req.Target, req)
}

// dispatchNSS is dispatch for a server that plays the NSS server: it
// answers NMsec_GET_CLIENTINFO itself and routes every other IPSec
// request to the stack of the client named by the target.
func (c *conn) dispatchNSS(req *nmi.Request) (recordSource, nmi.ReturnCode, nmi.ReasonCode) {
	n := c.s.nss
	switch req.Type {
	case nmi.GetStackInfo, nmi.GetIKENSInfo:
		// The NSS server does not route these (IBM).
		return nil, nmi.EINVAL, nmi.RsnBadType
	case nmi.GetClientInfo:
		if !c.allowed(nssResource(n.system)) {
			return nil, nmi.EACCES, nmi.RsnNone
		}
		cs, ok := n.clientInfo(req.Target, req.Filters)
		if !ok {
			return nil, nmi.ENXIO, nmi.RsnNone
		}
		return clientInfoSource(cs), nmi.RcOK, nmi.RsnNone
	}
	cl, m, ok := n.route(req.Target)
	if !ok {
		return nil, nmi.ENXIO, nmi.RsnNone
	}
	if !c.allowed(authz.Resource(n.system, cl.Name, kindOf(req.Type))) {
		return nil, nmi.EACCES, nmi.RsnNone
	}
	if !cl.RemoteManagement {
		return nil, nmi.EOPNOTSUPP, nmi.RsnNone
	}
	return answer(m, cl.Stack, req)
}

// nssResource is the SAF resource that guards NMsec_GET_CLIENTINFO on
// the NSS server of system sys.
func nssResource(sys string) string {
	sys = strings.ToUpper(sys)
	return "EZB.NETMGMT." + sys + "." + sys + ".NSS.DISPLAY"
}

func kindOf(t nmi.MsgType) authz.Kind {
	if t.IsControl() {
		return authz.Control
	}
	return authz.Display
}

// answer gives the records answering req, a request for one stack of m
// whose target and authority have been checked.
func answer(m *Model, stack string, req *nmi.Request) (recordSource, nmi.ReturnCode, nmi.ReasonCode) {
	t := req.Type
	fs := req.Filters
	if t == nmi.LoadPolicy {
		m.LoadPolicy(stack, req.Policy.Source)
		r := nmi.PolicySourceRecord{PolicySource: *req.Policy}
		return func(yield func(record, int) error) error { return yield(&r, policyRecSize) }, nmi.RcOK, nmi.RsnNone
	}
	if t.IsControl() {
		recs := make([]ControlRecord, len(req.Tunnels))
		for i, tr := range req.Tunnels {
			recs[i] = ControlRecord{Name: tr.Name.String(), TunnelID: tr.TunnelID.String()}
		}
		out, _ := m.Control(stack, t, recs)
		return controlSource(out), nmi.RcOK, nmi.RsnNone
	}
	var src recordSource
	switch t {
	case nmi.GetIPFltCurr, nmi.GetIPFltDefault, nmi.GetIPFltPolicy:
		which := map[nmi.MsgType]FilterSource{nmi.GetIPFltCurr: SourceCurrent, nmi.GetIPFltDefault: SourceDefault,
			nmi.GetIPFltPolicy: SourcePolicy}[t]
		l, _ := m.Filters(stack, which)
		src = filterSource(l, fs)
	case nmi.GetIPInterfaces:
		st, _ := m.Stack(stack)
		src = interfaceSource(st.Interfaces)
	case nmi.GetIPTunManual:
		ts, _ := m.ManualTunnels(stack)
		src = manualSource(ts, fs)
	case nmi.GetIPTunDynStack, nmi.GetIPTunDynIKE:
		ts, _ := m.DynTunnels(stack)
		src = dynSource(ts, fs, t == nmi.GetIPTunDynIKE)
	case nmi.GetIKETun, nmi.GetIKETunCascade:
		ts, _ := m.IKETunnels(stack, t == nmi.GetIKETunCascade)
		src = ikeSource(ts, fs, t == nmi.GetIKETunCascade)
	case nmi.GetPortTrans:
		ps, _ := m.PortTranslations(stack)
		src = portTransSource(ps, fs)
	case nmi.GetSummary:
		st, _ := m.Summary(stack)
		src = summarySource(st)
	default:
		return nil, nmi.EINVAL, nmi.RsnBadType
	}
	return src, nmi.RcOK, nmi.RsnNone
}

// eachRecord yields a record for every item that the input filters
// select (subj nil: every item); fill converts one item.
func eachRecord[E any](items []E, fs []nmi.InFilter, subj func(*E) subject, fill func(*E) (record, int, error)) recordSource {
	return func(yield func(record, int) error) error {
		for i := range items {
			if subj != nil {
				if s := subj(&items[i]); !matches(fs, &s) {
					continue
				}
			}
			r, n, err := fill(&items[i])
			if err == nil {
				err = yield(r, n)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
}

func stackInfoSource(stacks []Stack) recordSource {
	var r nmi.StackRecord
	return eachRecord(stacks, nil, nil, func(s *Stack) (rec record, _ int, err error) {
		r.Stack, err = stackSection(s)
		return &r, stackRecSize, err
	})
}

func nssSource(stacks []Stack) recordSource {
	var r nmi.NSSRecord
	return eachRecord(stacks, nil, nil, func(s *Stack) (rec record, _ int, err error) {
		r.NSS, err = nssSection(s)
		return &r, nssRecSize, err
	})
}

func interfaceSource(ifs []Interface) recordSource {
	var r nmi.InterfaceRecord
	return eachRecord(ifs, nil, nil, func(i *Interface) (rec record, _ int, err error) {
		r.Interface, err = interfaceSection(i)
		return &r, interfaceRecSize, err
	})
}

func controlSource(recs []ControlRecord) recordSource {
	var r nmi.TunnelRecord
	return eachRecord(recs, nil, nil, func(c *ControlRecord) (rec record, _ int, err error) {
		r.Tunnel = nmi.Tunnel{Status: c.Status}
		err = setTexts(textField{&r.Tunnel.Name, c.Name}, textField{&r.Tunnel.TunnelID, c.TunnelID})
		return &r, tunnelRecSize, err
	})
}

func summarySource(st Statistics) recordSource {
	r := nmi.SummaryRecord{Statistics: statisticsSection(&st)}
	return func(yield func(record, int) error) error { return yield(&r, summaryRecSize) }
}

func filterSource(l *FilterList, fs []nmi.InFilter) recordSource {
	var r nmi.FilterRecord
	return func(yield func(record, int) error) error {
		return l.Each(func(f *Filter) error {
			if s := filterSubject(f); !matches(fs, &s) {
				return nil
			}
			if err := filterSection(f, &r.Filter); err != nil {
				return err
			}
			return yield(&r, filterRecSize)
		})
	}
}

func manualSource(ts []ManualTunnel, fs []nmi.InFilter) recordSource {
	var r nmi.ManualTunnelRecord
	return eachRecord(ts, fs, manualSubject, func(t *ManualTunnel) (rec record, _ int, err error) {
		r, err = manualRecord(t)
		return &r, manualRecSize, err
	})
}

func dynSource(ts []DynTunnel, fs []nmi.InFilter, ikeView bool) recordSource {
	var rs nmi.DynStackRecord
	var ri nmi.DynIKERecord
	return eachRecord(ts, fs, dynSubject, func(t *DynTunnel) (record, int, error) {
		if ikeView {
			err := dynIKERecord(t, &ri)
			return &ri, dynIKERecSize(&ri), err
		}
		return &rs, dynStackRecSize, dynStackRecord(t, &rs)
	})
}

func ikeSource(vs []IKEView, fs []nmi.InFilter, cascade bool) recordSource {
	var r nmi.IKETunnelRecord
	return eachRecord(vs, fs, func(v *IKEView) subject { return ikeSubject(&v.IKETunnel) },
		func(v *IKEView) (record, int, error) {
			err := ikeRecord(v, cascade, &r)
			return &r, ikeRecSize(&r), err
		})
}

func portTransSource(ps []PortTranslation, fs []nmi.InFilter) recordSource {
	var r nmi.PortTransRecord
	return eachRecord(ps, fs, portTransSubject, func(p *PortTranslation) (rec record, _ int, err error) {
		r.PortTrans, err = portTransSection(p)
		return &r, portRecSize, err
	})
}
