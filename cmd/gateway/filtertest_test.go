package main

import (
	"net/http"
	"testing"
)

// TestFilterTestNamesWhatProtectsThePacket runs filters:test against the
// demo data set and finds each answer's rule in GET .../filters (the
// current set, dynamic filters included) at the answer's position: a
// packet a tunnel carries is answered with the tunnel's dynamic filter
// and the anchor it was installed for; one a static rule takes, with that
// rule; one no rule takes, with the default deny.
func TestFilterTestNamesWhatProtectsThePacket(t *testing.T) {
	g := startGateway(t)
	type want struct {
		matched bool
		name    string
		typ     string
		tunnel  string
		action  string
	}
	for _, c := range []struct {
		what, stack, body string
		want              want
	}{
		{"BRANCH1's traffic, carried by tunnel Y1", "TCPIP",
			`{"direction":"outbound","source":"192.0.2.5","destination":"198.51.100.5","protocol":"tcp","destinationPort":443}`,
			want{true, "BRANCH1-VPN", "dynamic", "Y1", "ipsec"}},
		{"the database port, carried by tunnel Y2 before the wider BRANCH1 rule", "TCPIP",
			`{"direction":"outbound","source":"192.0.2.20","destination":"198.51.100.20","protocol":"tcp","sourcePort":1521,"destinationPort":40000}`,
			want{true, "BRANCH1-DB-VPN", "dynamic", "Y2", "ipsec"}},
		{"DNS, a static rule", "TCPIP",
			`{"direction":"outbound","source":"192.0.2.10","destination":"198.51.100.53","protocol":"udp","sourcePort":5353,"destinationPort":53}`,
			want{true, "PERMIT-DNS", "generic", "", "permit"}},
		{"a routed packet on a stack whose rules are all local", "TCPIPB",
			`{"direction":"inbound","routed":true,"source":"203.0.113.9","destination":"198.51.100.9","protocol":"udp","sourcePort":5000,"destinationPort":53}`,
			want{false, "", "", "", "deny"}},
	} {
		v := g.postObject("/v1/stacks/"+c.stack+"/filters:test", c.body, http.StatusOK)
		rule, _ := v["rule"].(item)
		got := want{v["matched"] == true, str(rule, "name"), str(rule, "type"), str(rule, "tunnelId"), str(v, "action")}
		if got != c.want {
			t.Errorf("%s: answered %+v, want %+v (%v)", c.what, got, c.want, v)
			continue
		}
		// The list of the current set, dynamic filters in their place.
		list := g.list("/v1/stacks/" + c.stack + "/filters?set=current&pageSize=500")
		at := func(pos any) item {
			p, ok := pos.(float64)
			if !ok || p < 1 || int(p) > len(list) {
				return nil
			}
			return list[int(p)-1]
		}
		if !c.want.matched {
			if _, ok := v["position"]; ok || v["anchor"] != nil {
				t.Errorf("%s: no match, yet position %v anchor %v", c.what, v["position"], v["anchor"])
			}
			continue
		}
		l := at(v["position"])
		if l == nil || str(l, "name") != c.want.name || str(l, "type") != c.want.typ || str(l, "tunnelId") != c.want.tunnel ||
			str(l, "direction") != str(rule, "direction") || str(l, "nameExtension") != str(rule, "nameExtension") {
			t.Errorf("%s: position %v of the list holds %v, the answer %v", c.what, v["position"], l, rule)
		}
		// A tunnel's dynamic filter counts the tunnel's packets, and its
		// anchor stands after it.
		if c.want.typ == "dynamic" {
			if n, _ := rule["matchCount"].(float64); n == 0 {
				t.Errorf("%s: the tunnel's dynamic filter shows no matches", c.what)
			}
			a, _ := v["anchor"].(item)
			la := at(a["position"])
			if la == nil || str(la, "name") != c.want.name || str(la, "type") != "dynamic-anchor" ||
				str(la, "direction") != str(rule, "direction") || str(a, "name") != c.want.name {
				t.Errorf("%s: anchor %v, the list has %v there", c.what, a, la)
			}
			if ap, _ := a["position"].(float64); ap <= v["position"].(float64) {
				t.Errorf("%s: anchor at %v, before its dynamic filter at %v", c.what, ap, v["position"])
			}
		} else if v["anchor"] != nil {
			t.Errorf("%s: a static rule with an anchor %v", c.what, v["anchor"])
		}
	}
}
