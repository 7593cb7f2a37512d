package canary

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// Step is one weight of a rollout and how long it runs before its analysis.
type Step struct {
	Weight int
	// Pause is how long the step runs; with an analysis, 0 means its window.
	Pause time.Duration
}

// Rollout sets the weights of Steps one after the other.
type Rollout struct {
	Steps []Step
	// Set sends weight percent of the requests to the canary colour.
	Set func(ctx context.Context, weight int) error
	// Analysis gates every step with a weight above 0; nil: steps only pause.
	Analysis *Analysis
	// Sleep waits d (tests replace it); nil: a timer that ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Failure is a step whose analysis failed: the weight was set back to 0
// (unless RollbackErr says why not).
type Failure struct {
	// Step is the failed step (1-based) of Steps, at Weight.
	Step, Steps, Weight int
	Report              Report
	Reasons             []string
	RollbackErr         error
}

func (f *Failure) Error() string {
	var b strings.Builder
	b.WriteString(strings.Join(f.Reasons, "; "))
	if f.RollbackErr != nil {
		fmt.Fprintf(&b, "; setting the weight back to 0 failed too (%v): %d%% of the requests may still go to %s, check nginx now",
			f.RollbackErr, f.Weight, f.Report.CanaryName)
	} else {
		fmt.Fprintf(&b, "; traffic is back on %s", f.Report.ActiveName)
	}
	return b.String()
}

// Run sets every step's weight and analyses it. It returns the weight in
// effect at the end (0 after a failed analysis) and the reports of the
// analysed steps. A failed analysis is a *Failure; an error of Set is returned
// as it is (the router puts back its previous configuration itself).
func (r *Rollout) Run(ctx context.Context) (weight int, reports []Report, err error) {
	for i, step := range r.Steps {
		logging.Info(ctx, "Canary step", "step", i+1, "of", len(r.Steps), "weight", step.Weight)
		if err := r.Set(ctx, step.Weight); err != nil {
			return weight, reports, err
		}
		weight = step.Weight
		if r.Analysis == nil || step.Weight == 0 {
			if i < len(r.Steps)-1 {
				if err := r.sleep(ctx, step.Pause); err != nil {
					return weight, reports, err
				}
			}
			continue
		}
		report, err := r.analyse(ctx, step)
		if err != nil {
			return 0, reports, r.rollback(ctx, i, step, Report{}, []string{err.Error()})
		}
		reports = append(reports, report)
		reasons := report.Failures()
		logReport(ctx, step.Weight, &report, len(reasons) == 0)
		if len(reasons) > 0 {
			return 0, reports, r.rollback(ctx, i, step, report, reasons)
		}
	}
	return weight, reports, nil
}

// analyse waits the step's pause and analyses its last window.
func (r *Rollout) analyse(ctx context.Context, step Step) (Report, error) {
	a := r.Analysis
	pause, window := step.Pause, a.Window
	if pause <= 0 {
		pause = window
	}
	if window > pause {
		window = pause
	}
	if err := r.sleep(ctx, pause-window); err != nil {
		return Report{}, err
	}
	mark, err := a.Mark(ctx)
	if err != nil {
		return Report{}, err
	}
	start := time.Now()
	if err := r.sleep(ctx, window); err != nil {
		return Report{}, err
	}
	return a.Measure(ctx, mark, time.Since(start))
}

// rollback sets the weight back to 0, even when ctx has ended.
func (r *Rollout) rollback(ctx context.Context, i int, step Step, report Report, reasons []string) error {
	if report.CanaryName == "" {
		report.CanaryName, report.ActiveName = r.Analysis.Canary, r.Analysis.Active
	}
	f := &Failure{Step: i + 1, Steps: len(r.Steps), Weight: step.Weight, Report: report, Reasons: reasons}
	logging.Warn(ctx, "Canary analysis failed; setting the weight back to 0", "weight", step.Weight, "reasons", strings.Join(reasons, "; "))
	f.RollbackErr = r.Set(context.WithoutCancel(ctx), 0)
	return f
}

func (r *Rollout) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the canary step was interrupted after less than %s: %w", Duration(d), ctx.Err())
	}
}
