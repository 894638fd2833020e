package httpapi

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/fleet"
	"github.com/nmigw/nmigw/internal/nmi"
)

// stackParam returns the {stack} path parameter after the SAF DISPLAY
// check.
func (a *api) stackParam(r *http.Request) (string, error) {
	stack := pathParam(r, "stack")
	return stack, a.checkStack(r, stack, authz.Display)
}

// do runs one NMI exchange within ctx, the request scope (scope).
func (a *api) do(ctx context.Context, req *nmi.Request, fn func(nmi.Record) error) error {
	_, err := a.nmi.Do(ctx, req, fn)
	return err
}

// listRequest prepares the NMI request of a list: the SAF check, paging,
// the request type from req and the input filters from the query.
func (a *api) listRequest(r *http.Request, allowed crit, req func(q url.Values) (*nmi.Request, error)) (*nmi.Request, page, error) {
	stack, err := a.stackParam(r)
	if err != nil {
		return nil, page{}, err
	}
	pg, err := parsePage(r)
	if err != nil {
		return nil, pg, err
	}
	q := r.URL.Query()
	nreq, err := req(q)
	if err != nil {
		return nil, pg, err
	}
	if nreq.Filters, err = inFilters(q, allowed); err != nil {
		return nil, pg, err
	}
	nreq.Target = stack
	return nreq, pg, nil
}

// listSpec is a list whose items come from one NMI request and are sorted
// by key: the input filters it takes, its request from the query, and a
// decoder (one per exchange: it holds the record buffers) turning each
// record into a key and the item's members (via s.add).
type listSpec struct {
	allowed crit
	req     func(q url.Values) (*nmi.Request, error)
	decoder func(q url.Values) func(nmi.Record, *sorter, *page) error
}

// sortedList answers the list of spec on the request's stack.
func (a *api) sortedList(w http.ResponseWriter, r *http.Request, spec *listSpec) {
	nreq, pg, err := a.listRequest(r, spec.allowed, spec.req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.serveShared(w, r, func(bw *bodyWriter) error {
		var s sorter
		defer s.release()
		decode := spec.decoder(r.URL.Query())
		if err := a.do(r.Context(), nreq, func(rec nmi.Record) error { return decode(rec, &s, &pg) }); err != nil {
			return err
		}
		return s.writeTo(newListBody(bw, &pg))
	})
}

// byID answers one object named by the path parameter param: the first
// item in key order, and, with k set, every item in an array k (a tunnel's
// generations, a rule's extensions).
func (a *api) byID(w http.ResponseWriter, r *http.Request, what, param string, nreq *nmi.Request, k string,
	decode func(nmi.Record, *sorter) error) {
	stack, err := a.stackParam(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id := pathParam(r, param)
	f, err := idFilter(param, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	nreq.Target = stack
	nreq.Filters = []nmi.InFilter{f}
	a.serveShared(w, r, func(bw *bodyWriter) error {
		var s sorter
		defer s.release()
		if err := a.do(r.Context(), nreq, func(rec nmi.Record) error { return decode(rec, &s) }); err != nil {
			return err
		}
		if len(s.list()) == 0 {
			return &notFoundError{What: what + " " + id}
		}
		s.sort()
		s.writeFirstWithAll(&bw.jw, k)
		return bw.finish()
	})
}

// idFilter is the input filter of a path parameter naming one object.
func idFilter(param, v string) (nmi.InFilter, error) {
	var f nmi.InFilter
	set, _, err := parseValue(param, v)
	if err != nil {
		return f, err
	}
	set(&f)
	return f, nil
}

func fixed(t nmi.MsgType) func(url.Values) (*nmi.Request, error) {
	return func(url.Values) (*nmi.Request, error) { return &nmi.Request{Type: t}, nil }
}

// tunnelKey is the order of tunnel lists: tunnel ID by number, newest
// generation first.
func tunnelKey(id string, gen uint32) []byte {
	return descKey(natKey(make([]byte, 0, 32), id), gen)
}

func (a *api) listStacks(w http.ResponseWriter, r *http.Request) {
	pg, err := parsePage(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.serveBody(w, r, func(bw *bodyWriter) error {
		// The records first, then the decisions: no authorizer is asked
		// while an NMI connection is held.
		type row struct {
			st  nmi.Stack
			nss *nmi.NSS
		}
		var rows []row
		var names []string
		err := a.stacks(r.Context(), func(st *nmi.Stack, nss *nmi.NSS) {
			rows = append(rows, row{*st, nss})
			names = append(names, st.Name.String())
		})
		if err != nil {
			return err
		}
		may, err := a.mayDisplay(r, names)
		if err != nil {
			return err
		}
		var s sorter
		defer s.release()
		for i := range rows {
			if may[i] {
				rw := &rows[i]
				s.add(&pg, []byte(names[i]), func(jw *jsonw) { viewStack(jw, &rw.st, rw.nss) })
			}
		}
		return s.writeTo(newListBody(bw, &pg))
	})
}

// stacks calls fn for every stack of NMsec_GET_STACKINFO with its
// NMsec_GET_IKENSINFO record, if any.
func (a *api) stacks(ctx context.Context, fn func(*nmi.Stack, *nmi.NSS)) error {
	nss := map[string]nmi.NSS{}
	var nrec nmi.NSSRecord
	err := a.do(ctx, &nmi.Request{Type: nmi.GetIKENSInfo}, func(rec nmi.Record) error {
		if err := nrec.Decode(rec); err != nil {
			return err
		}
		nss[nrec.NSS.StackName.String()] = nrec.NSS
		return nil
	})
	if err != nil {
		return err
	}
	var srec nmi.StackRecord
	return a.do(ctx, &nmi.Request{Type: nmi.GetStackInfo}, func(rec nmi.Record) error {
		if err := srec.Decode(rec); err != nil {
			return err
		}
		var np *nmi.NSS
		if n, ok := nss[srec.Stack.Name.String()]; ok {
			np = &n
		}
		fn(&srec.Stack, np)
		return nil
	})
}

func (a *api) getStack(w http.ResponseWriter, r *http.Request) {
	stack, err := a.stackParam(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if st := stackFrom(r.Context()); st != nil && st.Kind == fleet.NSS {
		a.getClientStack(w, r, st)
		return
	}
	a.serveShared(w, r, func(bw *bodyWriter) error {
		found := false
		err := a.stacks(r.Context(), func(st *nmi.Stack, nss *nmi.NSS) {
			if !found && st.Name.String() == stack {
				found = true
				bw.jw.beginObject()
				viewStack(&bw.jw, st, nss)
				bw.jw.endObject()
			}
		})
		if err != nil {
			return err
		}
		if !found {
			return &unknownStackError{Stack: stack}
		}
		return bw.finish()
	})
}

func (a *api) getSummary(w http.ResponseWriter, r *http.Request) {
	stack, err := a.stackParam(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.serveShared(w, r, func(bw *bodyWriter) error {
		var rec nmi.SummaryRecord
		n := 0
		err := a.do(r.Context(), &nmi.Request{Type: nmi.GetSummary, Target: stack}, func(raw nmi.Record) error {
			n++
			return rec.Decode(raw)
		})
		if err != nil {
			return err
		}
		if n != 1 {
			return &badAnswerError{Msg: "NMsec_GET_SUMMARY answered " + strconv.Itoa(n) + " records, not one"}
		}
		bw.jw.beginObject()
		viewSummary(&bw.jw, stack, &rec.Statistics)
		bw.jw.endObject()
		return bw.finish()
	})
}

var interfaceList = listSpec{0, fixed(nmi.GetIPInterfaces), func(url.Values) func(nmi.Record, *sorter, *page) error {
	var rec nmi.InterfaceRecord
	return func(raw nmi.Record, s *sorter, pg *page) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		i := &rec.Interface
		key := append([]byte(i.Name.String()), 0)
		a16 := i.Addr.As16()
		key = append(key, a16[:]...)
		s.add(pg, key, func(jw *jsonw) { viewInterface(jw, i) })
		return nil
	}
}}

func (a *api) listInterfaces(w http.ResponseWriter, r *http.Request) {
	a.sortedList(w, r, &interfaceList)
}

// filterSetType is the NMI request of ?set=.
func filterSetType(q url.Values) (*nmi.Request, error) {
	switch q.Get("set") {
	case "", "current":
		return &nmi.Request{Type: nmi.GetIPFltCurr}, nil
	case "default":
		return &nmi.Request{Type: nmi.GetIPFltDefault}, nil
	case "policy":
		return &nmi.Request{Type: nmi.GetIPFltPolicy}, nil
	}
	return nil, &paramError{Name: "set", Reason: "not one of current, default, policy"}
}

const allCrit = critName | critTunnelID | critLocalAddr | critRemoteAddr | critProtocol | critLocalPort | critRemotePort

// listFilters streams filter rules in the stack's order: each record is
// written as it arrives, so a 100,000-rule set never sits in memory.
func (a *api) listFilters(w http.ResponseWriter, r *http.Request) {
	nreq, pg, err := a.listRequest(r, allCrit, filterSetType)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	serve := a.serveBody // a whole filter set streams to each caller
	if pg.size > 0 && pg.size <= maxSharedFilterPage {
		serve = a.serveShared
	}
	serve(w, r, func(bw *bodyWriter) error {
		l := newListBody(bw, &pg)
		var rec nmi.FilterRecord
		var ord uint64
		var key [8]byte
		err := a.do(r.Context(), nreq, func(raw nmi.Record) error {
			ord++
			binary.BigEndian.PutUint64(key[:], ord)
			if pg.skip(key[:]) || l.more {
				return nil
			}
			if l.full() {
				l.more = true
				return nil
			}
			if err := rec.Decode(raw); err != nil {
				return err
			}
			return l.add(key[:], func(jw *jsonw) { viewFilter(jw, &rec.Filter) })
		})
		if err != nil {
			return err
		}
		return l.finish()
	})
}

func (a *api) getFilter(w http.ResponseWriter, r *http.Request) {
	nreq, err := filterSetType(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var rec nmi.FilterRecord
	var ord uint32
	a.byID(w, r, "filter rule", "name", nreq, "extensions", func(raw nmi.Record, s *sorter) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		ord++
		s.add(&page{}, ascKey(nil, ord), func(jw *jsonw) { viewFilter(jw, &rec.Filter) })
		return nil
	})
}

const tunnelCrit = critName | critTunnelID | critLocalAddr | critRemoteAddr

func ikeRequest(q url.Values) (*nmi.Request, error) {
	if q.Get("cascade") == "true" {
		return &nmi.Request{Type: nmi.GetIKETunCascade}, nil
	}
	return &nmi.Request{Type: nmi.GetIKETun}, nil
}

var ikeList = listSpec{tunnelCrit, ikeRequest, func(url.Values) func(nmi.Record, *sorter, *page) error {
	var rec nmi.IKETunnelRecord
	var id, key []byte // reused: the sorter copies keys
	return func(raw nmi.Record, s *sorter, pg *page) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		id = nmi.AppendText(id[:0], rec.Tunnel.ID[:])
		key = descKey(natKey(key[:0], id), rec.Tunnel.Generation)
		s.add(pg, key, func(jw *jsonw) { viewIKE(jw, &rec, true) })
		return nil
	}
}}

func (a *api) listIKETunnels(w http.ResponseWriter, r *http.Request) { a.sortedList(w, r, &ikeList) }

func (a *api) getIKETunnel(w http.ResponseWriter, r *http.Request) {
	var rec nmi.IKETunnelRecord
	a.byID(w, r, "IKE tunnel", "tunnelId", &nmi.Request{Type: nmi.GetIKETunCascade}, "generations", func(raw nmi.Record, s *sorter) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		s.add(&page{}, descKey(nil, rec.Tunnel.Generation), func(jw *jsonw) { viewIKE(jw, &rec, true) })
		return nil
	})
}

func dynRequest(q url.Values) (*nmi.Request, error) {
	if q.Get("view") == "ike" {
		return &nmi.Request{Type: nmi.GetIPTunDynIKE}, nil
	}
	return &nmi.Request{Type: nmi.GetIPTunDynStack}, nil
}

// dynDecoder decodes either view of dynamic tunnels into a sorter.
type dynDecoder struct {
	stack nmi.DynStackRecord
	ike   nmi.DynIKERecord
}

func (d *dynDecoder) decode(t nmi.MsgType, raw nmi.Record, s *sorter, pg *page, key func(id string, gen uint32) []byte) error {
	if t == nmi.GetIPTunDynIKE {
		if err := d.ike.Decode(raw); err != nil {
			return err
		}
		s.add(pg, key(d.ike.Tunnel.ID.String(), d.ike.Dyn.Generation), func(jw *jsonw) { viewDynIKE(jw, &d.ike) })
		return nil
	}
	if err := d.stack.Decode(raw); err != nil {
		return err
	}
	s.add(pg, key(d.stack.Tunnel.ID.String(), d.stack.Dyn.Generation), func(jw *jsonw) { viewDynStack(jw, &d.stack) })
	return nil
}

var dynList = listSpec{allCrit, dynRequest, func(q url.Values) func(nmi.Record, *sorter, *page) error {
	var d dynDecoder
	t := nmi.GetIPTunDynStack
	if q.Get("view") == "ike" {
		t = nmi.GetIPTunDynIKE
	}
	return func(raw nmi.Record, s *sorter, pg *page) error {
		return d.decode(t, raw, s, pg, tunnelKey)
	}
}}

func (a *api) listDynamicTunnels(w http.ResponseWriter, r *http.Request) {
	a.sortedList(w, r, &dynList)
}

func (a *api) getDynamicTunnel(w http.ResponseWriter, r *http.Request) {
	var d dynDecoder
	nreq, _ := dynRequest(r.URL.Query())
	a.byID(w, r, "dynamic tunnel", "tunnelId", nreq, "generations", func(raw nmi.Record, s *sorter) error {
		return d.decode(nreq.Type, raw, s, &page{}, func(_ string, gen uint32) []byte { return descKey(nil, gen) })
	})
}

var manualList = listSpec{tunnelCrit, fixed(nmi.GetIPTunManual), func(url.Values) func(nmi.Record, *sorter, *page) error {
	var rec nmi.ManualTunnelRecord
	return func(raw nmi.Record, s *sorter, pg *page) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		s.add(pg, natKey(nil, rec.Tunnel.ID.String()), func(jw *jsonw) { viewManual(jw, &rec) })
		return nil
	}
}}

func (a *api) listManualTunnels(w http.ResponseWriter, r *http.Request) {
	a.sortedList(w, r, &manualList)
}

func (a *api) getManualTunnel(w http.ResponseWriter, r *http.Request) {
	var rec nmi.ManualTunnelRecord
	var ord uint32
	a.byID(w, r, "manual tunnel", "tunnelId", &nmi.Request{Type: nmi.GetIPTunManual}, "", func(raw nmi.Record, s *sorter) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		ord++
		s.add(&page{}, ascKey(nil, ord), func(jw *jsonw) { viewManual(jw, &rec) })
		return nil
	})
}

const portTransCrit = critTunnelID | critRemoteAddr | critProtocol | critLocalPort | critRemotePort

var portTransList = listSpec{portTransCrit, fixed(nmi.GetPortTrans), func(url.Values) func(nmi.Record, *sorter, *page) error {
	var rec nmi.PortTransRecord
	return func(raw nmi.Record, s *sorter, pg *page) error {
		if err := rec.Decode(raw); err != nil {
			return err
		}
		p := &rec.PortTrans
		key := natKey(nil, p.TunnelID.String())
		key = binary.BigEndian.AppendUint16(key, p.TranslatedPort)
		key = append(key, p.Protocol)
		key = binary.BigEndian.AppendUint16(key, p.LclPort)
		s.add(pg, key, func(jw *jsonw) { viewPortTrans(jw, p) })
		return nil
	}
}}

func (a *api) listPortTranslations(w http.ResponseWriter, r *http.Request) {
	a.sortedList(w, r, &portTransList)
}

// whoAmI reports the caller and its rights on every stack of every
// system, decided in one batch; "stacks" is those of the default system.
func (a *api) whoAmI(w http.ResponseWriter, r *http.Request) {
	p, err := a.principal(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	method := "none"
	if a.authMethod != nil {
		if m := a.authMethod(r.Context()); m != "" {
			method = m
		}
	}
	ctx, cancel := a.systemsDeadline(r.Context())
	defer cancel()
	sys, err := a.rights(ctx, p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	for _, s := range sys {
		if s.def && s.err != nil {
			a.writeError(w, r, s.err)
			return
		}
	}
	var jw jsonw
	jw.beginObject()
	jw.str("user", p.User)
	jw.array("groups")
	for _, g := range p.Groups {
		jw.strElem(g)
	}
	jw.endArray()
	jw.str("authentication", method)
	// Only the stacks the caller has a right on: the others' names and
	// resources are not the caller's to see.
	var def []stackRights
	for _, s := range sys {
		if s.def {
			def = s.stacks
		}
	}
	viewRights(&jw, "stacks", "stack", def)
	jw.array("systems")
	for _, s := range sys {
		if !slices.ContainsFunc(s.stacks, func(st stackRights) bool { return st.display || st.control }) {
			continue
		}
		jw.elem()
		jw.beginObject()
		jw.str("name", s.name)
		viewRights(&jw, "stacks", "name", s.stacks)
		jw.endObject()
	}
	jw.endArray()
	jw.endObject()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(jw.b)
}

// viewRights writes array k of the stacks on which the caller has a right,
// each named by member name.
func viewRights(jw *jsonw, k, name string, stacks []stackRights) {
	jw.array(k)
	for _, st := range stacks {
		if !st.display && !st.control {
			continue
		}
		jw.elem()
		jw.beginObject()
		jw.str(name, st.name)
		jw.boolean("display", st.display)
		jw.boolean("control", st.control)
		jw.optStr("displayResource", st.dres)
		jw.optStr("controlResource", st.cres)
		jw.endObject()
	}
	jw.endArray()
}
