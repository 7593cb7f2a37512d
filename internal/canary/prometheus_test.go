package canary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakePrometheus answers /api/v1/query with the body stored for each query.
func fakePrometheus(t *testing.T, answers map[string]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.URL.Query().Get("time") == "" {
			http.Error(w, `{"status":"error","error":"bad request"}`, http.StatusBadRequest)
			return
		}
		body, ok := answers[r.URL.Query().Get("query")]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPrometheusAnalysis(t *testing.T) {
	vector := func(values ...string) string {
		var series []string
		for i, v := range values {
			series = append(series, fmt.Sprintf(`{"metric":{"pod":"green-%d"},"value":[1733212800.5,%q]}`, i, v))
		}
		return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(series, ",") + `]}}`
	}
	url := fakePrometheus(t, map[string]string{
		"good":    vector("0.001", "0.004"),
		"bad":     vector("0.001", "0.07"),
		"scalar":  `{"status":"success","data":{"resultType":"scalar","result":[1733212800.5,"0.002"]}}`,
		"empty":   vector(),
		"nan":     vector("NaN"),
		"matrix":  `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		"garbage": `<html>`,
	})
	tests := []struct{ query, want string }{
		{"good", ""},
		{"scalar", ""},
		{"bad", `the Prometheus query "bad" returned 0.07, limit 0.01`},
		{"empty", "returned no data"},
		{"nan", "returned NaN"},
		{"matrix", "must return a scalar or an instant vector"},
		{"garbage", "Prometheus answered 200 OK"},
		{"unknown", "parse error"},
	}
	for _, tt := range tests {
		a := &Analysis{Prometheus: &Prometheus{URL: url + "/", Query: tt.query, Max: 0.01}, Canary: "green", Active: "blue", Thresholds: Thresholds{Window: time.Second}}
		m, _ := a.Mark(context.Background())
		r, err := a.Measure(context.Background(), m, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(r.Failures(), "; ")
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("query %s: failures %q, want %q", tt.query, got, tt.want)
		}
	}

	// A rollout gated by Prometheus only: the bad query sends the weight back to 0.
	var set []int
	ro := &Rollout{
		Steps:    []Step{{Weight: 10}, {Weight: 50}},
		Set:      func(_ context.Context, w int) error { set = append(set, w); return nil },
		Analysis: &Analysis{Prometheus: &Prometheus{URL: url, Query: "bad", Max: 0.01}, Canary: "green", Active: "blue", Thresholds: Thresholds{Window: time.Minute}},
		Sleep:    func(context.Context, time.Duration) error { return nil },
	}
	w, _, err := ro.Run(context.Background())
	var f *Failure
	if !errors.As(err, &f) || w != 0 || fmt.Sprint(set) != "[10 0]" || !strings.Contains(err.Error(), "traffic is back on blue") {
		t.Fatalf("weight %d, weights set %v, err %v", w, set, err)
	}
	if got := ro.Analysis.Describe(); got != `Prometheus "bad" ≤ 0.01 at the end of 1m` {
		t.Errorf("Describe = %q", got)
	}
}
