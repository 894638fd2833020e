#!/bin/sh
# Starts nmigw as a Zowe server component (commands.start of manifest.yaml). zwe runs it from the
# component's directory, with the component's configuration (components.nmigw of zowe.yaml, defaults
# in manifest.yaml's configs) exported as ZWE_components_nmigw_<key>, and Zowe's own as ZWE_zowe_*.
# It execs bin/gateway (the gateway built for z/OS, see deploy/zos/README.md) in the foreground:
# zwe watches the process.
#
# Not yet tried under zwe on z/OS; deploy's tests run it with /bin/sh and a stand-in gateway.
set -eu

COMPONENT_HOME=${COMPONENT_HOME:-$(pwd)}

fail() {
	echo "nmigw: $*" >&2
	exit 1
}

[ -n "${ZWE_components_nmigw_port:-}" ] || fail "components.nmigw.port is not set"
[ -n "${ZWE_components_nmigw_policy:-}" ] || fail "components.nmigw.policy is not set"

# Configuration and policy files may be tagged ASCII or be untagged EBCDIC: let z/OS UNIX convert
# tagged files on read (deploy/zos/README.md).
_BPXK_AUTOCVT=ON
export _BPXK_AUTOCVT

audit=${ZWE_components_nmigw_auditLog:-}
if [ -z "$audit" ]; then
	if [ -n "${ZWE_zowe_logDirectory:-}" ]; then
		audit=$ZWE_zowe_logDirectory/nmigw-audit.log
	else
		audit=-
	fi
fi

set -- \
	--listen ":$ZWE_components_nmigw_port" \
	--policy "$ZWE_components_nmigw_policy" \
	--nmi-socket "${ZWE_components_nmigw_nmiSocket:-/var/sock/ipsecmgmt}" \
	--audit-log "$audit"

if [ "${ZWE_components_nmigw_attls:-false}" = "true" ]; then
	# AT-TLS does TLS on the port: the gateway speaks plain HTTP to it.
	:
elif [ -n "${ZWE_zowe_certificate_pem_certificate:-}" ] && [ -n "${ZWE_zowe_certificate_pem_key:-}" ]; then
	set -- "$@" --tls-cert "$ZWE_zowe_certificate_pem_certificate" --tls-key "$ZWE_zowe_certificate_pem_key"
else
	fail "the API ML reaches components over HTTPS: set components.nmigw.attls: true (AT-TLS) or give Zowe a PEM certificate (zowe.certificate.pem)"
fi

exec "$COMPONENT_HOME/bin/gateway" "$@"
