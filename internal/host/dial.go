package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DialAll connects to every host of cfgs, at most maxParallel at a time (all
// at once when maxParallel < 1), so a fleet costs about one handshake, not one
// per host. All of them or none: when one fails, the others are closed and the
// error names each host that failed (an unreachable host is an error, never
// skipped). The returned func closes every host.
func DialAll(ctx context.Context, cfgs []SSHConfig, maxParallel int) ([]Host, func(), error) {
	if maxParallel < 1 || maxParallel > len(cfgs) {
		maxParallel = len(cfgs)
	}
	hosts := make([]Host, len(cfgs))
	errs := make([]error, len(cfgs))
	sem := make(chan struct{}, max(maxParallel, 1))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			h, err := DialSSH(ctx, c)
			if err != nil {
				errs[i] = fmt.Errorf("cannot reach host %s: %w", c.Address, err)
				return
			}
			hosts[i] = h
		}()
	}
	wg.Wait()
	closeAll := func() {
		for _, h := range hosts {
			if h != nil {
				_ = h.Close()
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		closeAll()
		return nil, func() {}, err
	}
	return hosts, closeAll, nil
}
