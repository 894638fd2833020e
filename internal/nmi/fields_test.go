package nmi

import (
	"slices"
	"testing"
)

// The field tables stay inside their blocks, in order, without overlap,
// and every fixed-size section type the codec encodes has the table's size.
func TestFieldTables(t *testing.T) {
	all := []Layout{HeaderLayout, RecordHeaderLayout, SectionDescLayout, CascadeDescLayout,
		StackLayout, StatisticsLayout, IKETunStatsLayout, NSSLayout, InterfaceLayout, IPTunnelLayout,
		IPManualTunnelLayout, IPDynTunnelLayout, IPDynamicStackLayout, IPDynamicIKELayout,
		IKETunnelLayout, IPFilterLayout, PortTransLayout}
	for _, l := range all {
		end := 0
		for _, f := range l.Fields {
			if f.Off < end || f.Len <= 0 || f.Off+f.Len > l.Size {
				t.Errorf("%s.%s: offset %d length %d after %d in %d bytes", l.Name, f.Name, f.Off, f.Len, end, l.Size)
			}
			end = f.Off + f.Len
			if f.Kind == FieldEnum && (f.Enum == nil || !IsUnknown(f.Enum(250))) {
				t.Errorf("%s.%s: enumeration without names, or 250 is defined", l.Name, f.Name)
			}
			if f.Source != IBM && f.Source != Proposed {
				t.Errorf("%s.%s: source %q", l.Name, f.Name, f.Source)
			}
		}
	}
	for _, c := range []struct {
		l Layout
		s sectionAppender
	}{
		{StackLayout, &Stack{}}, {StatisticsLayout, &Statistics{}}, {IKETunStatsLayout, &IKETunStats{}},
		{NSSLayout, &NSS{}}, {InterfaceLayout, &Interface{}}, {IPTunnelLayout, &IPTunnel{}},
		{IPManualTunnelLayout, &IPManualTunnel{}}, {IPDynTunnelLayout, &IPDynTunnel{}},
		{IPDynamicStackLayout, &IPDynamicStack{}}, {IPDynamicIKELayout, &IPDynamicIKE{}},
		{IKETunnelLayout, &IKETunnel{}}, {IPFilterLayout, &IPFilter{}}, {PortTransLayout, &PortTrans{}},
		{ClientInfoLayout, &ClientInfo{}},
	} {
		b, err := c.s.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%T: %v", c.s, err)
		}
		if len(b) != c.l.Size {
			t.Errorf("%s: table %d bytes, codec %d", c.l.Name, c.l.Size, len(b))
		}
	}
	for typ := GetStackInfo; typ <= GetClientInfo; typ++ {
		if secs, _ := ResponseLayouts(typ); len(secs) == 0 || slices.ContainsFunc(secs, func(l Layout) bool { return l.Size == 0 }) {
			t.Errorf("%v: no response layout", typ)
		}
	}
}
