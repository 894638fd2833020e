package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// logLines are the JSON log lines run wrote (the banner is text).
func (g *gateway) logLines() []item {
	g.t.Helper()
	var out []item
	sc := bufio.NewScanner(strings.NewReader(g.out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v item
		if strings.HasPrefix(sc.Text(), "{") {
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				g.t.Fatalf("log line is not JSON: %q", sc.Text())
			}
			out = append(out, v)
		}
	}
	return out
}

func TestWholeProgramLogs(t *testing.T) {
	g := startGateway(t, "--log-level", "debug")
	if g.viewer == "" {
		t.Fatalf("no viewer token in:\n%s", g.out.String())
	}
	resp, _ := g.get("/v1/stacks/TCPIP/summary", "Authorization", "Bearer "+g.viewer, "X-Request-ID", "wp-log-1")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-ID") == "wp-log-1" {
		t.Fatalf("GET summary: %d, X-Request-ID %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
	g.object("/v1/stacks/NOSUCH/summary", http.StatusNotFound, "X-Request-ID", "wp-log-2")
	const badToken = "not-a-token-5e0c2b7d91"
	g.object("/v1/whoami", http.StatusUnauthorized, "Authorization", "Bearer "+badToken, "X-Request-ID", "wp-log-3")

	access := map[string]item{}
	for _, l := range g.logLines() {
		if l["msg"] == "http" {
			access[str(l, "clientRequestId")] = l
		}
		if s, _ := json.Marshal(l); strings.Contains(string(s), g.viewer) || strings.Contains(string(s), badToken) {
			t.Errorf("a bearer token is in a log line: %s", s)
		}
	}
	ok, notFound := access["wp-log-1"], access["wp-log-2"]
	nmiOf := func(v item) item { m, _ := v["nmi"].(item); return m }
	if ok["principal"] != "VIEWER" || ok["route"] != "/v1/stacks/{stack}/summary" || ok["status"] != float64(200) ||
		ok["durationMs"] == nil || nmiOf(ok)["type"] != "NMsec_GET_SUMMARY" || nmiOf(ok)["rc"] != "OK" {
		t.Errorf("access log line %v", ok)
	}
	if notFound["principal"] != "ANONYM" || notFound["status"] != float64(404) || nmiOf(notFound)["rc"] != "ENXIO" {
		t.Errorf("access log line of a 404 %v", notFound)
	}
	if denied := access["wp-log-3"]; denied["status"] != float64(401) || denied["principal"] != nil {
		t.Errorf("access log line of a 401 %v", denied)
	}

	// At --log-level warn (the tests' NMIGW_LOG_LEVEL) there is no access log.
	quiet := startGateway(t)
	quiet.object("/v1/stacks", http.StatusOK)
	for _, l := range quiet.logLines() {
		if l["level"] == "INFO" || l["level"] == "DEBUG" {
			t.Errorf("log line below warn: %v", l)
		}
	}
}

func TestWholeProgramNotReady(t *testing.T) {
	// Nobody serves the socket: alive, not ready, and the answer says why
	// without naming the socket; the log has the error, which does.
	sock := filepath.Join(t.TempDir(), "ipsecmgmt")
	g := startRun(t, "--nmi-socket", sock)
	g.object("/healthz", http.StatusOK)
	resp, body := g.get("/readyz", "X-Request-ID", "wp-not-ready")
	var p item
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	if d := str(p, "detail"); !strings.HasPrefix(d, "not ready: NMI not reachable;") || !strings.Contains(d, "no NMI exchange has succeeded") {
		t.Errorf("not ready without a cause: %v", p)
	}
	if strings.Contains(string(body), sock) || strings.Contains(string(body), "ipsecmgmt") {
		t.Errorf("the socket path is in the answer: %s", body)
	}
	var logged bool
	for _, l := range g.logLines() {
		if l["msg"] == "not ready" && l["clientRequestId"] == "wp-not-ready" {
			logged = l["level"] == "WARN" && strings.Contains(str(l, "error"), sock) && l["cause"] == "NMI not reachable"
		}
	}
	if !logged {
		t.Errorf("no warning with the error and the request ID in the log:\n%s", g.out.String())
	}
}
