package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"testing"

	"github.com/nmigw/nmigw/internal/ikedsim"
	"github.com/nmigw/nmigw/internal/nmi"
)

// filterSim serves a stack TCPIP whose current (policy) filter set is a
// few rules, in the stack's order.
func filterSim(t *testing.T) *simNMI {
	t.Helper()
	base := func(name string, act nmi.FilterAction, dir nmi.FilterDirection) ikedsim.Filter {
		return ikedsim.Filter{Name: name, NameExt: 1, Type: uint8(nmi.FilterGeneric), State: uint8(nmi.FilterActive),
			Action: uint8(act), Direction: uint8(dir), Scope: uint8(nmi.ScopeLocal), ICMPType: 255, ICMPCode: 255}
	}
	addr := func(f nmi.AddrFormat, a, a2 string, prefix uint8) ikedsim.AddrSpec {
		s := ikedsim.AddrSpec{Format: f, Addr: netip.MustParseAddr(a), Prefix: prefix}
		if a2 != "" {
			s.Addr2 = netip.MustParseAddr(a2)
		}
		return s
	}
	host := base("DENY-HOST", nmi.ActionDeny, nmi.DirectionOutbound)
	host.Dst = addr(nmi.AddrHost, "10.1.0.66", "", 0)
	web := base("BRANCH-WEB", nmi.ActionIPSec, nmi.DirectionOutbound)
	web.Protocol, web.Dst, web.DstPorts = 6, addr(nmi.AddrPrefix, "10.1.0.0", "", 24), ikedsim.PortRange{Low: 443, High: 443}
	ping := base("PERMIT-PING", nmi.ActionPermit, nmi.DirectionInbound)
	ping.Protocol, ping.ICMPType = 1, 8
	ping6 := base("PERMIT-PING6", nmi.ActionPermit, nmi.DirectionInbound)
	ping6.IPv6, ping6.Protocol, ping6.ICMPType = true, 58, 128
	ping6.Src = addr(nmi.AddrRange, "2001:db8:1::1", "2001:db8:1::ff", 0)
	deny := base("DENY-ALL", nmi.ActionDeny, nmi.DirectionOutbound)
	return newSimData(t, &ikedsim.DataSet{System: "SYS1", Stacks: []*ikedsim.Stack{{
		Name: "TCPIP", IPSecurity: true, IPv6Security: true, FilterSet: ikedsim.FilterSetPolicy,
		PolicyFilters: []ikedsim.Filter{host, web, ping, ping6, deny},
	}}})
}

func TestFilterTest(t *testing.T) {
	f := filterSim(t)
	s := ctlServer(t, f, &memSink{})
	const path = "/v1/stacks/TCPIP/filters:test"
	for _, c := range []struct {
		name, body string
		matched    bool
		rule       string
		action     string
	}{
		{"HTTPS to the branch: the tunnel's rule",
			`{"direction":"outbound","source":"192.0.2.10","destination":"10.1.0.5","protocol":"tcp","sourcePort":40000,"destinationPort":443}`,
			true, "BRANCH-WEB", "ipsec"},
		{"the denied host comes first",
			`{"direction":"outbound","source":"192.0.2.10","destination":"10.1.0.66","protocol":6,"destinationPort":443}`,
			true, "DENY-HOST", "deny"},
		{"another port falls through to the catch-all",
			`{"direction":"outbound","source":"192.0.2.10","destination":"10.1.0.5","protocol":"tcp","destinationPort":80}`,
			true, "DENY-ALL", "deny"},
		{"inbound echo request, given as local/remote",
			`{"direction":"inbound","localAddress":"192.0.2.10","remoteAddress":"198.51.100.7","protocol":"icmp","icmpType":8,"icmpCode":0}`,
			true, "PERMIT-PING", "permit"},
		{"inbound echo reply: no rule",
			`{"direction":"inbound","localAddress":"192.0.2.10","remoteAddress":"198.51.100.7","protocol":"icmp","icmpType":0,"icmpCode":0}`,
			false, "", "deny"},
		{"IPv6 echo request from the partner's range",
			`{"direction":"inbound","localAddress":"2001:db8::10","remoteAddress":"2001:db8:1::5","protocol":"icmpv6","icmpType":128}`,
			true, "PERMIT-PING6", "permit"},
		{"IPv6 echo request from elsewhere",
			`{"direction":"inbound","source":"2001:db8:2::5","destination":"2001:db8::10","protocol":58,"icmpType":128}`,
			false, "", "deny"},
	} {
		v := s.postJSON(path, c.body, http.StatusOK)
		rule, _ := v["rule"].(map[string]any)
		name, _ := rule["name"].(string)
		if v["matched"] != c.matched || name != c.rule || v["action"] != c.action || v["stack"] != "TCPIP" {
			t.Errorf("%s: %v", c.name, v)
		}
		// The position is where GET .../filters lists the same rule,
		// counted from 1; an answer without a match has none.
		if want := listPosition(s, rule); v["position"] != want {
			t.Errorf("%s: position %v, the list has the rule at %v", c.name, v["position"], want)
		}
	}
	// local/remote is mapped by direction: inbound, the remote side is the
	// source.
	v := s.postJSON(path, `{"direction":"inbound","localAddress":"192.0.2.10","remoteAddress":"198.51.100.7","protocol":"udp","localPort":53,"remotePort":5353}`, http.StatusOK)
	pk := v["packet"].(map[string]any)
	if pk["source"] != "198.51.100.7" || pk["destination"] != "192.0.2.10" || pk["sourcePort"] != float64(5353) ||
		pk["destinationPort"] != float64(53) || pk["protocol"] != float64(17) || pk["direction"] != "inbound" {
		t.Errorf("packet %v", pk)
	}
	// The NMI is asked for the whole current set, without input filters:
	// the position counts every rule before the match.
	f.mu.Lock()
	last := f.calls[len(f.calls)-1]
	f.mu.Unlock()
	if last.Type != nmi.GetIPFltCurr || len(last.Filters) != 0 {
		t.Errorf("NMI request %+v", last)
	}
}

// listPosition finds rule (by name, extension and direction: the two
// rules of a pair share name and extension) in GET
// /v1/stacks/TCPIP/filters and returns its position there, counted from
// 1, as a JSON number; nil when rule is nil or not listed.
func listPosition(s *server, rule map[string]any) any {
	s.t.Helper()
	if rule == nil {
		return nil
	}
	l, _ := s.getJSON("/v1/stacks/TCPIP/filters?pageSize=10000", http.StatusOK)
	if l["nextPageToken"] != nil {
		s.t.Fatalf("the filter list does not fit one page: %v", l)
	}
	items, _ := l["items"].([]any)
	for i, it := range items {
		m, _ := it.(map[string]any)
		if m["name"] == rule["name"] && m["nameExtension"] == rule["nameExtension"] && m["direction"] == rule["direction"] {
			return float64(i + 1)
		}
	}
	return nil
}

func TestFilterTestBadInput(t *testing.T) {
	f := filterSim(t)
	s := ctlServer(t, f, &memSink{})
	for _, c := range []struct{ body, param string }{
		{``, "body"},
		{`{"source":"192.0.2.1","destination":"10.0.0.1","protocol":"tcp"}`, "body/direction"},
		{`{"direction":"sideways","source":"192.0.2.1","destination":"10.0.0.1","protocol":"tcp"}`, "body/direction"},
		{`{"direction":"inbound","source":"192.0.2.1","protocol":"tcp"}`, "body/destination"},
		{`{"direction":"inbound","source":"192.0.2.1","remoteAddress":"10.0.0.1","protocol":"tcp"}`, "body"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"2001:db8::1","protocol":"tcp"}`, "body"},
		{`{"direction":"inbound","source":"192.0.2.999","destination":"10.0.0.1","protocol":"tcp"}`, "body/source"},
		{`{"direction":"inbound","source":"fe80::1%eth0","destination":"fe80::2","protocol":"tcp"}`, "body/source"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":0}`, "body/protocol"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"300"}`, "body/protocol"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1"}`, "body/protocol"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"icmp","destinationPort":80}`, "body"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"tcp","icmpType":8}`, "body"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"udp","connectionInitiating":true}`, "body/connectionInitiating"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"tcp","ospfType":1}`, "body/ospfType"},
		{`{"direction":"inbound","source":"192.0.2.1","destination":"10.0.0.1","protocol":"tcp","colour":"red"}`, "body"},
	} {
		resp, b := s.post("/v1/stacks/TCPIP/filters:test", c.body)
		var p map[string]any
		_ = json.Unmarshal(b, &p)
		ip, _ := p["invalidParams"].([]any)
		if resp.StatusCode != http.StatusBadRequest || len(ip) == 0 || ip[0].(map[string]any)["name"] != c.param {
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, resp.StatusCode, b, c.param)
		}
	}
}
