package main

import (
	"math"
	"sort"
	"time"
)

// durations is a sample of latencies or wall times.
type durations []time.Duration

// sorted returns a sorted copy.
func (d durations) sorted() durations {
	out := append(durations(nil), d...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of an already
// sorted sample: the smallest value with at least p% of the sample at or
// below it. It is 0 for an empty sample.
func (d durations) percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(d))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(d) {
		rank = len(d)
	}
	return d[rank-1]
}

// summary is the median with the extremes of a sample.
type summary struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// summarize a sample of float values (milliseconds, MiB, counts).
func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return summary{N: len(s), Min: s[0], Median: median(s), Max: s[len(s)-1]}
}

// median of a sorted sample: the middle value, or the mean of the two
// middle values for an even count.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
