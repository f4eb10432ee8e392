// promcheck reads a Prometheus text exposition from stdin, parses it with the Prometheus
// project's own parser (prometheus/common/expfmt) and lints it with the rules of
// `promtool check metrics` (client_golang's promlint). It prints one JSON object:
// {"families": {name: {"type", "help", "samples": [{"labels": {...}, "value": n}]}},
//  "problems": [{"metric", "text"}]}, or exits 1 with the parse error on stderr.
// Used by the metrics endpoint tests (test/integration/cli/metrics.test.ts).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type sample struct {
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

type family struct {
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Samples []sample `json:"samples"`
}

type problem struct {
	Metric string `json:"metric"`
	Text   string `json:"text"`
}

func main() {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parse error:", err)
		os.Exit(1)
	}
	out := struct {
		Families map[string]family `json:"families"`
		Problems []problem         `json:"problems"`
	}{Families: map[string]family{}, Problems: []problem{}}
	list := make([]*dto.MetricFamily, 0, len(mfs))
	for name, mf := range mfs {
		list = append(list, mf)
		f := family{Type: mf.GetType().String(), Help: mf.GetHelp(), Samples: []sample{}}
		for _, m := range mf.GetMetric() {
			s := sample{Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				s.Value = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s.Value = m.GetGauge().GetValue()
			default:
				s.Value = m.GetUntyped().GetValue()
			}
			f.Samples = append(f.Samples, s)
		}
		out.Families[name] = f
	}
	sort.Slice(list, func(i, j int) bool { return list[i].GetName() < list[j].GetName() })
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint error:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		out.Problems = append(out.Problems, problem{Metric: p.Metric, Text: p.Text})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
