package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// stateSetter is the part of tfsdk.State that an apply needs to save what is really
// there (resp.State of Create and Update, or a test double).
type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// orPlaceholder returns s, or placeholder when s is empty: how messages name a
// value that is missing ("nothing", "an unknown actor").
func orPlaceholder(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// errMessage is err's message, empty without an error (see orPlaceholder).
func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// planAndState reads an update's plan and prior state; ok is false when either
// could not be read (the diagnostics say why) or diags already held an error.
func planAndState[T any](ctx context.Context, req resource.UpdateRequest, diags *diag.Diagnostics) (plan, state T, ok bool) {
	diags.Append(req.Plan.Get(ctx, &plan)...)
	diags.Append(req.State.Get(ctx, &state)...)
	return plan, state, !diags.HasError()
}

// planAndPrior reads a ModifyPlan's plan and prior state (nil for a resource
// about to be created); ok is false when there is no plan (a destroy) or either
// could not be read (the diagnostics say why).
func planAndPrior[T any](ctx context.Context, req resource.ModifyPlanRequest, diags *diag.Diagnostics) (plan T, prior *T, ok bool) {
	plan, ok = plannedModel[T](ctx, req, diags)
	if !ok || req.State.Raw.IsNull() {
		return plan, nil, ok
	}
	prior = new(T)
	diags.Append(req.State.Get(ctx, prior)...)
	return plan, prior, !diags.HasError()
}

// plannedModel reads the plan of a ModifyPlan; ok is false when there is none
// (a destroy) or it could not be read (the diagnostics say why).
func plannedModel[T any](ctx context.Context, req resource.ModifyPlanRequest, diags *diag.Diagnostics) (plan T, ok bool) {
	if req.Plan.Raw.IsNull() {
		return plan, false
	}
	diags.Append(req.Plan.Get(ctx, &plan)...)
	return plan, !diags.HasError()
}
