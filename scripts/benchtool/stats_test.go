package main

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var d durations
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	d = d.sorted()
	cases := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Millisecond},
		{95, 95 * time.Millisecond},
		{99, 99 * time.Millisecond},
		{100, 100 * time.Millisecond},
		{0.1, 1 * time.Millisecond},
	}
	for _, c := range cases {
		if got := d.percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (durations{}).percentile(50); got != 0 {
		t.Errorf("empty sample p50 = %v, want 0", got)
	}
	three := durations{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}.sorted()
	if got := three.percentile(50); got != 2*time.Millisecond {
		t.Errorf("p50 of 1,2,3 ms = %v, want 2ms", got)
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		in   []float64
		want summary
	}{
		{[]float64{3, 1, 2}, summary{N: 3, Min: 1, Median: 2, Max: 3}},
		{[]float64{4, 1, 2, 3}, summary{N: 4, Min: 1, Median: 2.5, Max: 4}},
		{nil, summary{}},
	}
	for _, c := range cases {
		if got := summarize(c.in); got != c.want {
			t.Errorf("summarize(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
