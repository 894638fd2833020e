package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestEpisodeLog: an episode logs its start once, a summary of the
// refusals at most every 10 s, and its end once, however many requests it
// refuses. The clock is given, so the test is exact.
func TestEpisodeLog(t *testing.T) {
	var buf bytes.Buffer
	e := episodeLog{log: slog.New(slog.NewJSONHandler(&buf, nil))}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if e.refused(t0, "still") {
		t.Fatal("a refusal counted outside an episode")
	}
	e.end(t0, "over") // none under way: nothing
	e.begin(t0, "started", slog.String("cause", "x"))
	// 25 s of refusals, 100 a second: summaries at 10 s and 20 s.
	for i := range 2500 {
		now := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		e.begin(now, "started") // already under way: nothing
		if !e.refused(now, "still") {
			t.Fatal("a refusal in an episode not counted")
		}
	}
	if e.quietSince(t0.Add(25*time.Second), time.Second) || !e.quietSince(t0.Add(27*time.Second), time.Second) {
		t.Fatal("quietSince")
	}
	e.end(t0.Add(30*time.Second), "over")
	e.end(t0.Add(31*time.Second), "over")

	var msgs []string
	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, v)
		msgs = append(msgs, v["msg"].(string))
	}
	if want := []string{"started", "still", "still", "over"}; !slices.Equal(msgs, want) {
		t.Fatalf("log %q, want %q", msgs, want)
	}
	if lines[0]["cause"] != "x" || lines[0]["level"] != "WARN" {
		t.Errorf("start %v", lines[0])
	}
	// The first summary counts the refusals of its first 10 s (1001
	// counting the one that logs it), the second the next 1000.
	if lines[1]["refused"] != float64(1001) || lines[2]["refused"] != float64(1000) || lines[2]["sinceStartMs"] != float64(20000) {
		t.Errorf("summaries %v %v", lines[1], lines[2])
	}
	if lines[3]["refused"] != float64(2500) || lines[3]["durationMs"] != float64(30000) || lines[3]["level"] != "INFO" {
		t.Errorf("end %v", lines[3])
	}
}
