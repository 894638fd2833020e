package authz

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		profile string
		yes     []string
		no      []string
	}{
		{"A.B.C", []string{"A.B.C", "a.b.c"}, []string{"A.B", "A.B.C.D", "A.B.CD"}},
		{"A.B%.C", []string{"A.BX.C", "A.B1.C"}, []string{"A.B.C", "A.BXY.C", "A.B.X.C"}},
		{"%", []string{"A", "1"}, []string{"AB", "A.B"}},
		{"A.%%", []string{"A.BC"}, []string{"A.B", "A.BCD", "A.B.C"}},
		{"*.B", []string{"A.B", "XYZ.B"}, []string{"B", "A.A.B", "A.BC"}},
		{"A.*.C", []string{"A.B.C", "A.XYZ.C"}, []string{"A.C", "A.B.B.C", "A.B.C.D"}},
		{"A.B.*", []string{"A.B.C", "A.B.C.D", "A.B.C.D.E"}, []string{"A.B", "A.BC", "A.C.D"}},
		{"*", []string{"A", "A.B", "A.B.C"}, nil},
		{"A.B*.C", []string{"A.B.C", "A.BXY.C"}, []string{"A.B.D", "A.X.C", "A.B.X.C", "A.BX.C.D"}},
		{"A.B*", []string{"A.B", "A.BC", "A.B.C", "A.BC.D.E"}, []string{"A", "A.C", "AB"}},
		{"A*", []string{"A", "AB", "A.B", "AB.C"}, []string{"B", "BA"}},
		{"A.B%*", []string{"A.BC", "A.BCD.E"}, []string{"A.B", "A.B.C"}},
		{"**", []string{"A", "A.B", "A.B.C.D.E"}, nil},
		{"A.**", []string{"A", "A.B", "A.B.C"}, []string{"B", "AB", "B.A"}},
		{"**.C", []string{"C", "A.C", "A.B.C"}, []string{"A", "C.A", "AC"}},
		{"A.**.C", []string{"A.C", "A.B.C", "A.B.B.C"}, []string{"A", "A.B", "A.C.B", "B.C"}},
		{"A.**.*", []string{"A.B", "A.B.C"}, []string{"A", "B.C"}},
		{"A.**.B%*", []string{"A.BC", "A.X.BCD.E", "A.X.Y.BC"}, []string{"A.B", "A.X.B"}},
		{"EZB.NETMGMT.**", []string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT"}, []string{"EZB.NETMGMTX.SYS1"}},
		{"EZB.NETMGMT.SYS1.*.IPSEC.CONTROL", []string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.CONTROL", "EZB.NETMGMT.SYS1.TCPIP2.IPSEC.CONTROL"},
			[]string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS2.TCPIP.IPSEC.CONTROL"}},
		{"EZB.NETMGMT.SYS%.TCPIP*.IPSEC.*", []string{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYSA.TCPIPB.IPSEC.CONTROL"},
			[]string{"EZB.NETMGMT.SYS10.TCPIP.IPSEC.DISPLAY", "EZB.NETMGMT.SYS1.TCPIP.IPSEC"}},
	}
	for _, tt := range tests {
		p, err := compile(tt.profile)
		if err != nil {
			t.Fatalf("compile(%q): %v", tt.profile, err)
		}
		for _, want := range []bool{true, false} {
			names := tt.yes
			if !want {
				names = tt.no
			}
			for _, r := range names {
				res, err := NormalizeResource(r)
				if err != nil {
					t.Fatalf("NormalizeResource(%q): %v", r, err)
				}
				if got := p.match(strings.Split(res, ".")); got != want {
					t.Errorf("%q matches %q = %v, want %v", tt.profile, r, got, want)
				}
			}
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, name := range []string{
		"", "A..B", ".A", "A.", "A.**.B.**", "**.**", "A.B*C", "A**", "***", "A.*B", "A.&SYS.B",
		"A B", "A,B", "A.Ä", strings.Repeat("A", MaxNameLen+1),
	} {
		if _, err := compile(name); err == nil {
			t.Errorf("compile(%q) accepted a bad name", name)
		}
	}
	for _, name := range []string{"A", "A.B*", "%", "**", "A.**", "EZB.NETMGMT.SYS1.*.IPSEC.CONTROL", "A-B_C.$#@", strings.Repeat("A", MaxNameLen)} {
		if _, err := compile(name); err != nil {
			t.Errorf("compile(%q): %v", name, err)
		}
	}
}

// The two orderings given in DESIGN.md §4, most specific first.
func TestSpecificityOrder(t *testing.T) {
	for _, want := range [][]string{
		{"COPY.PAPER.%", "COPY.PAPER.*", "COPY.PAPER.**", "COPY.PAPER%", "COPY.PAPER*", "COPY.PAPE%", "COPY.PAP*"},
		{"EZB.NETMGMT.SYS1.TCPIP.IPSEC.*", "EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY", "EZB.NETMGMT.**"},
	} {
		for i := range want {
			for j := range want {
				if got := moreSpecific(want[i], want[j]); got != (i < j) {
					t.Errorf("moreSpecific(%q, %q) = %v, want %v", want[i], want[j], got, i < j)
				}
			}
		}
		// The Model sorts generic profiles the same way, whatever
		// the order of the configuration.
		rev := slices.Clone(want)
		slices.Reverse(rev)
		cfg := Config{System: "SYS1"}
		for _, n := range rev {
			cfg.Profiles = append(cfg.Profiles, Profile{Name: n})
		}
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range a.generic {
			got = append(got, p.pat.name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("sorted profiles %q, want %q", got, want)
		}
	}
}

// patternRegexp is an independent reading of the generic rules, as a
// regular expression over the whole resource name.
func patternRegexp(name string) *regexp.Regexp {
	quals := strings.Split(upperASCII(name), ".")
	var b strings.Builder
	b.WriteString("^")
	needSep := false
	for i, q := range quals {
		first, last := i == 0, i == len(quals)-1
		sep := ""
		if needSep {
			sep = `\.`
		}
		needSep = true
		switch {
		case q == "**" && first && last:
			b.WriteString(`.+`)
		case q == "**" && first:
			b.WriteString(`(?:[^.]+\.)*`)
			needSep = false // the separator is inside the group
		case q == "**":
			b.WriteString(`(?:\.[^.]+)*`)
		case q == "*" && last:
			b.WriteString(sep + `[^.]+(?:\.[^.]+)*`)
		case q == "*":
			b.WriteString(sep + `[^.]+`)
		default:
			b.WriteString(sep)
			for j := 0; j < len(q); j++ {
				switch {
				case q[j] == '%':
					b.WriteString(`[^.]`)
				case q[j] == '*' && last:
					b.WriteString(`.*`)
				case q[j] == '*':
					b.WriteString(`[^.]*`)
				default:
					b.WriteString(regexp.QuoteMeta(q[j : j+1]))
				}
			}
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestPatternRegexpAgrees(t *testing.T) {
	for _, c := range []struct{ p, r string }{
		{"**.C", "C"}, {"**.C", "A.B.C"}, {"A.**.C", "A.C"}, {"A.**", "A"}, {"*", "A.B"}, {"A.B*", "A.B.C"},
	} {
		p, err := compile(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if !p.match(strings.Split(c.r, ".")) || !patternRegexp(c.p).MatchString(c.r) {
			t.Errorf("%q should match %q in both readings", c.p, c.r)
		}
	}
}

// FuzzMatch checks that compiling and matching never panic, that ** is
// accepted at most once, and that the matcher agrees with patternRegexp.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"EZB.NETMGMT.**", "EZB.NETMGMT.SYS1.TCPIP.IPSEC.DISPLAY"},
		{"A.**.C", "A.B.B.C"}, {"**", "X"}, {"A.*.C", "A.B.C"}, {"A.B*", "A.B.C"},
		{"A.B*.C", "A.BX.C"}, {"A.B%.C", "A.BX.C"}, {"*.B", "A.B"}, {"**.**", "A"}, {"A.%*.**.%", "A.B.C.D"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, profileName, resource string) {
		p, err := compile(profileName)
		if strings.Count("."+upperASCII(profileName)+".", ".**.") > 1 && err == nil {
			t.Fatalf("compile(%q) accepted ** twice", profileName)
		}
		res, rerr := NormalizeResource(resource)
		if err != nil || rerr != nil {
			return
		}
		got := p.match(strings.Split(res, "."))
		if want := patternRegexp(profileName).MatchString(res); got != want {
			t.Fatalf("%q matches %q = %v, regexp says %v", profileName, res, got, want)
		}
	})
}
