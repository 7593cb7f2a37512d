package target

import (
	"strings"
	"sync"
)

// each runs fn(0) … fn(n-1), at most maxParallel at a time (all at once when
// maxParallel < 1), and returns their errors by index.
func each(n, maxParallel int, fn func(i int) error) []error {
	errs := make([]error, n)
	if n == 1 {
		errs[0] = fn(0)
		return errs
	}
	if maxParallel < 1 || maxParallel > n {
		maxParallel = n
	}
	slots := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errs
}

// HostsError is an operation that failed on some hosts of a target: each
// error comes with the host it happened on. errors.Is and errors.As see every
// host's error.
type HostsError struct {
	// Op says what was being done: "prepare app@1.7.4".
	Op string
	// Hosts are the names of the hosts that failed, in the target's order.
	Hosts []string
	// Errs are their errors, in the same order.
	Errs []error
}

func (e *HostsError) Error() string {
	msgs := make([]string, len(e.Hosts))
	for i, h := range e.Hosts {
		// SSH errors start with the host's name already.
		msgs[i] = strings.TrimPrefix(e.Errs[i].Error(), h+": ")
	}
	if len(e.Hosts) == 1 {
		return e.Op + " failed on " + e.Hosts[0] + ": " + msgs[0]
	}
	for i, h := range e.Hosts {
		msgs[i] = h + ": " + msgs[i]
	}
	return e.Op + " failed on " + joinNames(e.Hosts) + ": " + strings.Join(msgs, "; ")
}

// Unwrap returns every host's error.
func (e *HostsError) Unwrap() []error { return e.Errs }

// hostsError gathers the errors of dirs (by index) into a *HostsError, or nil
// when there is none.
func hostsError(dirs []*Directory, errs []error, op string) error {
	he := &HostsError{Op: op}
	for i, err := range errs {
		if err != nil {
			he.Hosts = append(he.Hosts, dirs[i].host().Name())
			he.Errs = append(he.Errs, err)
		}
	}
	if len(he.Errs) == 0 {
		return nil
	}
	return he
}

// joinNames writes names for people: "web1", "web1 and web2", "web1, web2 and web3".
func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
