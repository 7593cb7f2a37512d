package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Prometheus is a PromQL query whose value must stay at or below Max at the
// end of every analysed window, e.g. the canary's error ratio from the
// application's own metrics.
type Prometheus struct {
	// URL is the server's base URL (http://prometheus:9090).
	URL   string
	Query string
	Max   float64
	// Client makes the request; nil: a client with a 30s timeout.
	Client *http.Client
}

// promResponse is the answer of /api/v1/query.
type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// Value runs the query at at and returns its value: the scalar, or the highest
// value of the series of a vector. A query without data is an error, never 0.
func (p *Prometheus) Value(ctx context.Context, at time.Time) (float64, error) {
	u := strings.TrimRight(p.URL, "/") + "/api/v1/query?" + url.Values{
		"query": {p.Query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("querying Prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("querying Prometheus: %w", err)
	}
	var pr promResponse
	if err := json.Unmarshal(body, &pr); err != nil || pr.Status != "success" {
		return 0, fmt.Errorf("Prometheus answered %s to %q: %s%.200s", resp.Status, p.Query, pr.Error, strings.TrimSpace(string(body)))
	}
	values, err := promValues(pr.Data.ResultType, pr.Data.Result)
	if err != nil {
		return 0, fmt.Errorf("reading the answer of Prometheus to %q: %w", p.Query, err)
	}
	if len(values) == 0 {
		return 0, fmt.Errorf("the Prometheus query %q returned no data: nothing to judge the canary on", p.Query)
	}
	highest := math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) {
			return 0, fmt.Errorf("the Prometheus query %q returned NaN (a ratio over no requests?): nothing to judge the canary on", p.Query)
		}
		highest = max(highest, v)
	}
	return highest, nil
}

// promValues reads the sample values of a scalar or vector result.
func promValues(resultType string, raw json.RawMessage) ([]float64, error) {
	var samples [][2]any
	switch resultType {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		samples = append(samples, s)
	case "vector":
		var series []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(raw, &series); err != nil {
			return nil, err
		}
		for _, s := range series {
			samples = append(samples, s.Value)
		}
	default:
		return nil, fmt.Errorf("a %s result: the query must return a scalar or an instant vector", resultType)
	}
	out := make([]float64, 0, len(samples))
	for _, s := range samples {
		str, _ := s[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("sample value %v: %w", s[1], err)
		}
		out = append(out, v)
	}
	return out, nil
}

// PromResult is the value of the Prometheus query at the end of a window.
type PromResult struct {
	Query      string
	Value, Max float64
	// Err says why there is no value (a failure of the step, never a pass).
	Err error
}

func (p *PromResult) failure() string {
	switch {
	case p.Err != nil:
		return p.Err.Error()
	case p.Value > p.Max:
		return fmt.Sprintf("the Prometheus query %q returned %s, limit %s", p.Query, formatFloat(p.Value), formatFloat(p.Max))
	}
	return ""
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
