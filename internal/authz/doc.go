// Package authz is the SAF model that decides who may display and who may
// control an IPSec stack through the network management interface.
//
// The NMI checks the caller's access to a resource in the SERVAUTH class,
//
//	EZB.NETMGMT.<system>.<stack>.IPSEC.DISPLAY
//	EZB.NETMGMT.<system>.<stack>.IPSEC.CONTROL
//
// and READ access suffices for both. This package reproduces RACF's
// decision for such a resource from a set of profiles, so that the gateway
// (for HTTP principals) and the simulator (for socket peers) enforce what
// SAF would enforce. It uses only the standard library and has no I/O.
//
// # Authorizers
//
// The gateway asks an Authorizer, which may fail to decide (an error:
// callers fail closed). Model, the profile model below, is one; AllowAll,
// which grants everything, stands for no authorization at all. Package
// safauth (internal/authz/safauth) asks SAF itself, over the network,
// through ZSS's saf-auth service.
//
// # Names
//
// Profile names, resource names, user IDs and group names are compared in
// upper case. User IDs and groups are 1 to 8 characters from A-Z, 0-9, #, $
// and @. Qualifiers are separated by periods and are never empty.
//
// # Generic characters
//
// A profile whose name holds none of the characters below is discrete and
// protects exactly the resource it names. Otherwise it is generic:
//
//	%        one character, never a period               A.B%.C   matches A.BX.C
//	*        a whole qualifier, not the last one:        A.*.C    matches A.B.C, not A.C or A.B.B.C
//	         exactly one qualifier
//	*        the whole last qualifier: one or more       A.B.*    matches A.B.C and A.B.C.D, not A.B
//	         qualifiers to the end
//	X*       at the end of a qualifier that is not the   A.B*.C   matches A.B.C and A.BXY.C
//	         last: zero or more characters within it
//	X*       at the end of the name: zero or more        A.B*     matches A.B, A.BC and A.B.C.D
//	         characters to the end, across qualifiers
//	**       a whole qualifier, at most once: zero or    A.**.C   matches A.C and A.X.Y.C
//	         more qualifiers; alone it matches anything  **       matches every name
//
// An asterisk anywhere else (A.B*C, A**) and RACFVARS (&) are rejected.
//
// # Which profile decides
//
// A discrete profile naming the resource always decides. Otherwise, among
// the generic profiles that match, the most specific decides and the others
// are ignored, even when they would grant more. Two names are compared
// character by character from the left; at the first difference
//
//	a specific character  beats  %  beats  the end of the name  beats  *
//
// so these lists run from most to least specific:
//
//	COPY.PAPER.%   COPY.PAPER.*   COPY.PAPER.**   COPY.PAPER%   COPY.PAPER*   COPY.PAPE%   COPY.PAP*
//	EZB.NETMGMT.SYS1.TCPIP.IPSEC.*   EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY   EZB.NETMGMT.**
//
// When the first difference is between two different specific characters
// (both names can match one resource only through **, as A.**.B.* and
// A.**.C.* both match A.B.C.D), the character that sorts first in byte order
// wins, so the outcome never depends on the order of the configuration.
//
// # Access
//
// Each profile has a universal access (UACC) and an access list of user IDs
// and groups, each with NONE, READ, UPDATE, CONTROL or ALTER. As in RACF:
//
//  1. the user's own entry decides, even when one of the user's groups has
//     a higher entry;
//  2. otherwise the highest entry among the user's groups decides;
//  3. otherwise the entry for "*" (every user) decides;
//  4. otherwise UACC decides.
//
// When no profile covers the resource, only superusers pass: the
// configured users and groups that stand for UID 0 and BPX.SUPERUSER.
// Superusers have no other privilege: a profile that covers the resource
// decides for them as for anyone. Everything else is denied.
package authz
