package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/releaseplan/terraform-provider-release/internal/backend"
	"github.com/releaseplan/terraform-provider-release/internal/freeze"
)

// StepFreeze refuses the deployment while a freeze window of the environment
// is in force, unless Facts.FreezeOverride lets it through.
const StepFreeze = "freeze"

// freezeSentence is the plan's description of StepFreeze.
func (f Facts) freezeSentence() string {
	if f.FreezeOverride != "" {
		return fmt.Sprintf("deploy to %s even if a release_freeze window is in force (freeze_override: %q), recording the override in the history", f.Environment, f.FreezeOverride)
	}
	return fmt.Sprintf("refuse if %s is frozen (a release_freeze window in force when the apply gets here), before anything goes live", f.Environment)
}

// checkFreeze is StepFreeze: the windows are read again at apply time, since
// one may have started after the plan.
func (r *run) checkFreeze(ctx context.Context) error {
	req := r.req
	st, err := freeze.Check(ctx, req.Backend, req.Environment, req.Now())
	if err != nil {
		return r.fail(StepFreeze, err, "Could not check whether %s is frozen: %v. Nothing was changed.", req.Environment, err)
	}
	ferr := st.Err()
	if ferr == nil {
		return nil
	}
	if req.FreezeOverride == "" {
		return r.fail(StepFreeze, ferr, "%v. Nothing was changed. Deploy after the freeze, or set freeze_override = \"<ticket: why>\" to deploy anyway (the override is recorded in the history).", ferr)
	}
	var fe *freeze.FrozenError
	errors.As(ferr, &fe)
	r.log("deploying into a frozen environment because freeze_override is set", map[string]any{"override": req.FreezeOverride})
	r.event(backend.KindFreezeOverridden, req.Version, r.spec.SHA256, fe.OverrideDetail(req.FreezeOverride))
	return nil
}
