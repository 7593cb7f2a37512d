package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/releaseplan/terraform-provider-release/internal/archive"
	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/target"
)

// deploymentTarget builds the target the model names, and its key in the
// resource id: the directory path ("ssh://web1,web2:2222/srv/app" with ssh
// hosts, so that a change of hosts deploys to all of them), or
// "scalingo:<app>". keyWO is the ssh block's write-only key from the
// configuration (null without one). done closes the connections to the hosts;
// it is never nil. A nil target with no error means a value it needs is still
// unknown (planning).
func deploymentTarget(ctx context.Context, data *providerData, m *deploymentResourceModel, keyWO types.String) (target.Target, string, func(), diag.Diagnostics) {
	var diags diag.Diagnostics
	done := func() {}
	switch {
	case m.Scalingo != nil:
		if !configured(data, &diags) {
			return nil, "", done, diags
		}
		name, _, _ := m.nameVersion()
		t, key, diags := data.scalingoDeploymentTarget(ctx, m.Scalingo, name)
		return t, key, done, diags
	case m.Directory != nil:
		return directoryTarget(ctx, data, m.Directory, keyWO)
	}
	diags.AddError("Missing deployment target", "Set a directory or a scalingo block: it says where the release is deployed.")
	return nil, "", done, diags
}

// openTarget is deploymentTarget for a resource operation: its diagnostics go
// to diags, and the target is nil when it cannot be used (diags hold an error,
// or the target is not known yet). done must be called in every case.
func (r *deploymentResource) openTarget(ctx context.Context, m *deploymentResourceModel, keyWO types.String, diags *diag.Diagnostics) (target.Target, string, func()) {
	tgt, key, done, d := deploymentTarget(ctx, r.data, m, keyWO)
	diags.Append(d...)
	if diags.HasError() {
		return nil, "", done
	}
	return tgt, key, done
}

// directoryTarget is the directory target of d: on this machine, or on every
// host of d.ssh (a target.Fleet, one host included).
func directoryTarget(ctx context.Context, data *providerData, d *deploymentDirectoryModel, keyWO types.String) (target.Target, string, func(), diag.Diagnostics) {
	var diags diag.Diagnostics
	done := func() {}
	if d.Path.IsUnknown() || d.Path.IsNull() {
		return nil, "", done, diags
	}
	var shared []string
	if !d.Shared.IsUnknown() {
		diags.Append(d.Shared.ElementsAs(ctx, &shared, false)...)
	}
	t, err := target.NewDirectory(d.Path.ValueString(), shared)
	if err != nil {
		diags.AddAttributeError(path.Root("directory"), "Invalid directory target", err.Error())
		return nil, "", done, diags
	}
	for _, c := range []struct {
		v   types.String
		cap *int64
	}{{d.MaxExtractedSize, &t.Limits.MaxBytes}, {d.MaxFileSize, &t.Limits.MaxFileBytes}} {
		if c.v.IsNull() || c.v.IsUnknown() {
			continue
		}
		n, err := archive.ParseSize(c.v.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("directory"), "Invalid directory target", err.Error())
			return nil, "", done, diags
		}
		*c.cap = n
	}
	if d.SSH == nil {
		return t, t.Path, done, diags
	}
	if !configured(data, &diags) {
		return nil, "", done, diags
	}
	hosts, done, ok := data.openSSH(ctx, d.SSH, keyWO, deploymentSSHPath, &diags)
	if !ok {
		return nil, "", done, diags
	}
	dirs := make([]*target.Directory, len(hosts))
	for i, h := range hosts {
		c := *t
		c.Host = h
		dirs[i] = &c
	}
	fleet, err := target.NewFleet(dirs, sshMaxParallel(d.SSH))
	if err != nil {
		done()
		diags.AddAttributeError(deploymentSSHPath, "Invalid directory target", err.Error())
		return nil, "", func() {}, diags
	}
	return fleet, "ssh://" + strings.Join(host.Names(hosts), ",") + t.Path, done, diags
}

// hostsLiver is a target that says what each of its hosts serves.
type hostsLiver interface {
	HostsLive(ctx context.Context) ([]target.HostRelease, error)
}

// hostsLive is the hosts_live of the target: each host's release id ("" for
// nothing), or null for a target without ssh hosts.
func (m *deploymentResourceModel) hostsLive(ctx context.Context, tgt target.Target) (types.Map, error) {
	hl, ok := tgt.(hostsLiver)
	if !ok || m.Directory == nil || m.Directory.SSH == nil {
		return types.MapNull(types.StringType), nil
	}
	live, err := hl.HostsLive(ctx)
	if err != nil {
		return types.MapNull(types.StringType), err
	}
	elems := make(map[string]attr.Value, len(live))
	for _, h := range live {
		id := ""
		if h.Release != nil {
			id = h.Release.ID
		}
		elems[h.Host] = types.StringValue(id)
	}
	return types.MapValueMust(types.StringType, elems), nil
}

// deploymentSSHPath is the ssh block of a directory target.
var deploymentSSHPath = path.Root("directory").AtName("ssh")

// sshKeyOnlyWriteOnly tells whether the state's ssh block can only log in with
// its write-only key, which an operation without configuration does not have
// (the write-only key rule of ssh_block.go).
func (r *deploymentResource) sshKeyOnlyWriteOnly(m *deploymentResourceModel) bool {
	return r.data != nil && m.Directory != nil && r.data.sshPlanMustRead(m.Directory.SSH)
}

// setHostsLive reads hosts_live from the target; a host that cannot be read
// leaves it unknown to the next plan (null) with a warning: the deployment's
// own result was already reported.
func (m *deploymentResourceModel) setHostsLive(ctx context.Context, tgt target.Target, diags *diag.Diagnostics) {
	hl, err := m.hostsLive(ctx, tgt)
	if err != nil {
		diags.AddWarning("Unable to read what each host serves", fmt.Sprintf("%s: %v. hosts_live is read again by the next refresh.", tgt.Describe(), err))
	}
	m.HostsLive = hl
}
