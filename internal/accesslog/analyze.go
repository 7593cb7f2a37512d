package accesslog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/bits"
	"time"
)

// Latencies is a streaming histogram of durations with fixed memory (about
// 135 KB once the first value is added): exact below 1024 µs, within 0.2%
// above. Quantiles are read from it without keeping the values.
type Latencies struct {
	counts []uint64
	n      uint64
}

const (
	exactBuckets = 1024 // microseconds counted one by one
	subBuckets   = 512  // buckets per power of two above
	maxShift     = 33
)

func bucketOf(us uint64) int {
	if us < exactBuckets {
		return int(us)
	}
	shift := bits.Len64(us) - 10 // us>>shift is in [512, 1024)
	if shift > maxShift {
		shift, us = maxShift, 1023<<maxShift
	}
	return exactBuckets + (shift-1)*subBuckets + int(us>>uint(shift)) - subBuckets
}

// lowerBound is the smallest duration (µs) of bucket i.
func lowerBound(i int) uint64 {
	if i < exactBuckets {
		return uint64(i)
	}
	i -= exactBuckets
	shift := i/subBuckets + 1
	return uint64(i%subBuckets+subBuckets) << uint(shift)
}

// Add records one duration (negative counts as 0).
func (l *Latencies) Add(d time.Duration) {
	if l.counts == nil {
		l.counts = make([]uint64, exactBuckets+maxShift*subBuckets)
	}
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	l.counts[bucketOf(us)]++
	l.n++
}

// Count is the number of durations added.
func (l *Latencies) Count() uint64 { return l.n }

// Merge adds the durations of o.
func (l *Latencies) Merge(o *Latencies) {
	if o.n == 0 {
		return
	}
	if l.counts == nil {
		l.counts = make([]uint64, len(o.counts))
	}
	for i, c := range o.counts {
		l.counts[i] += c
	}
	l.n += o.n
}

// Quantile returns the q-quantile (0 < q ≤ 1) by nearest rank: the smallest
// duration that at least q of the durations do not exceed; 0 without any.
func (l *Latencies) Quantile(q float64) time.Duration {
	if l.n == 0 {
		return 0
	}
	rank := uint64(q*float64(l.n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range l.counts {
		seen += c
		if seen >= rank {
			return time.Duration(lowerBound(i)) * time.Microsecond
		}
	}
	return time.Duration(lowerBound(len(l.counts)-1)) * time.Microsecond
}

// Stats are the requests served by one group of upstream servers.
type Stats struct {
	Requests int64
	// Errors are the requests answered 5xx.
	Errors  int64
	Latency Latencies
}

// ErrorRate is Errors / Requests (0 without requests).
func (s *Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

// P99 is the 99th percentile of the request times.
func (s *Stats) P99() time.Duration { return s.Latency.Quantile(0.99) }

func (s *Stats) add(e *Entry) {
	s.Requests++
	if e.Status >= 500 && e.Status <= 599 {
		s.Errors++
	}
	s.Latency.Add(e.RequestTime)
}

// Merge adds the requests of o.
func (s *Stats) Merge(o *Stats) {
	s.Requests += o.Requests
	s.Errors += o.Errors
	s.Latency.Merge(&o.Latency)
}

// Groups names the upstream servers (as $upstream_addr writes them) of the
// groups Analyze counts separately, e.g. {"green": {"10.0.0.2:8080"}, "blue": {...}}.
type Groups map[string][]string

// Result is what Analyze counted.
type Result struct {
	// Groups holds the stats of each group of Groups (every group is present).
	Groups map[string]*Stats
	// Lines is the number of lines read; Others the requests served by no
	// group (or by nginx itself); Unparsed the lines in neither format.
	Lines, Others, Unparsed int64
	// Bytes is the number of bytes read.
	Bytes int64
}

// Merge adds the counts of o (another host's log).
func (r *Result) Merge(o *Result) {
	if r.Groups == nil {
		r.Groups = map[string]*Stats{}
	}
	for name, s := range o.Groups {
		if r.Groups[name] == nil {
			r.Groups[name] = &Stats{}
		}
		r.Groups[name].Merge(s)
	}
	r.Lines += o.Lines
	r.Others += o.Others
	r.Unparsed += o.Unparsed
	r.Bytes += o.Bytes
}

// maxLine bounds a line; longer lines are skipped as unparsed.
const maxLine = 1 << 20

// Analyze reads an access log to its end and counts the requests of each group.
func Analyze(r io.Reader, groups Groups) (Result, error) {
	type member struct {
		addr  []byte
		stats *Stats
	}
	res := Result{Groups: map[string]*Stats{}}
	var members []member
	for name, addrs := range groups {
		s := &Stats{}
		res.Groups[name] = s
		for _, a := range addrs {
			members = append(members, member{[]byte(a), s})
		}
	}
	br := bufio.NewReaderSize(r, maxLine)
	skipping := false
	for {
		line, err := br.ReadSlice('\n')
		res.Bytes += int64(len(line))
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				res.Unparsed++
			}
			skipping = true
			continue
		case skipping:
			skipping = false
		case len(line) > 0:
			res.Lines++
			e, ok := ParseLine(line)
			if !ok {
				res.Unparsed++
				break
			}
			var s *Stats
			for i := range members {
				if bytes.Equal(members[i].addr, e.Upstream) {
					s = members[i].stats
					break
				}
			}
			if s == nil {
				res.Others++
			} else {
				s.add(&e)
			}
		}
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return res, err
		}
	}
}
