package maintenance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
)

// Default variable names read by the application.
const (
	DefaultEnableVariable        = "MAINTENANCE_ENABLE"
	DefaultBannerEnableVariable  = "MAINTENANCE_BANNER_ENABLE"
	DefaultBannerMessageVariable = "MAINTENANCE_BANNER_MESSAGE"
)

// VariableNames are the environment variables the application reads.
type VariableNames struct {
	Enable        string
	BannerEnable  string
	BannerMessage string
}

func (v VariableNames) withDefaults() VariableNames {
	if v.Enable == "" {
		v.Enable = DefaultEnableVariable
	}
	if v.BannerEnable == "" {
		v.BannerEnable = DefaultBannerEnableVariable
	}
	if v.BannerMessage == "" {
		v.BannerMessage = DefaultBannerMessageVariable
	}
	return v
}

// Scalingo sets the maintenance variables of a Scalingo app ("1"/"0" and the
// message) and, when Restart is set, restarts the app and waits for the restart
// operation, since a variable change alone does not reach running containers.
type Scalingo struct {
	Client       *scalingo.Client
	App          string
	Restart      bool
	Names        VariableNames
	PollInterval time.Duration // default 2s
}

var _ Switch = (*Scalingo)(nil)

// Describe implements Switch.
func (s *Scalingo) Describe() string { return "Scalingo app " + s.App }

// Capabilities implements Switch: the variables hold no details, and a change
// reaches the containers only with the restart.
func (s *Scalingo) Capabilities() Capabilities { return Capabilities{Staged: true} }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Apply implements Switch. The variables and the restart are all-or-nothing:
// while the app is already restarting the restart is asked again until the
// context ends; when Scalingo refuses it (the app is stopped, or still
// restarting at the end), the variables are put back as they were and the
// error says so. An app never deployed has nothing to restart: its first
// deployment starts with the variables.
func (s *Scalingo) Apply(ctx context.Context, st State) error {
	names := s.Names.withDefaults()
	vars := scalingo.Variables{
		{Name: names.Enable, Value: flag(st.Blocking())},
		{Name: names.BannerEnable, Value: flag(st.Enabled && st.Banner)},
	}
	if st.Enabled {
		// The message is left as it was when maintenance goes off, so a banner
		// template never shows an empty string.
		vars = append(vars, &scalingo.Variable{Name: names.BannerMessage, Value: st.Message})
	}
	var before scalingo.Variables
	if s.Restart {
		var err error
		if before, err = s.Client.VariablesList(ctx, s.App); err != nil {
			return fmt.Errorf("read the variables of %s: %w", s.App, err)
		}
	}
	if _, err := s.Client.VariableMultipleSet(ctx, s.App, vars); err != nil {
		return fmt.Errorf("set %s, %s on %s: %w", names.Enable, names.BannerEnable, s.App, err)
	}
	logging.Info(ctx, "maintenance variables set", "app", s.App, names.Enable, flag(st.Blocking()), names.BannerEnable, flag(st.Enabled && st.Banner))
	if !s.Restart {
		return nil
	}
	op, err := s.Client.AppsRestartAndWait(ctx, s.App, nil, s.PollInterval)
	var refused *scalingo.RestartRefusedError
	if errors.As(err, &refused) && s.neverDeployed(ctx) {
		// No container runs yet: the first deployment starts with the variables.
		logging.Info(ctx, "the app was never deployed: its first deployment starts with the variables", "app", s.App)
		return nil
	}
	if errors.As(err, &refused) {
		if perr := s.putBack(context.WithoutCancel(ctx), vars, before); perr != nil {
			return fmt.Errorf("%w; putting the variables back failed as well (%v): the variables of %s now say maintenance %s but the containers still run with the old ones, fix them by hand", err, perr, s.App, onOff(st.Enabled))
		}
		return fmt.Errorf("%w. The variables were put back as they were: nothing changed on %s", err, s.App)
	}
	if err != nil {
		return fmt.Errorf("the variables are set but the restart of %s did not finish: %w", s.App, err)
	}
	logging.Info(ctx, "app restarted", "app", s.App, "operation", op.ID)
	return nil
}

// neverDeployed tells whether the app has never run (status new): there is
// nothing to restart.
func (s *Scalingo) neverDeployed(ctx context.Context) bool {
	a, err := s.Client.AppsShow(ctx, s.App)
	return err == nil && a.Status == "new"
}

// putBack restores the variables set (vars) to what they were (before).
func (s *Scalingo) putBack(ctx context.Context, vars, before scalingo.Variables) error {
	var restore scalingo.Variables
	for _, v := range vars {
		if old := before.Get(v.Name); old != nil {
			restore = append(restore, &scalingo.Variable{Name: v.Name, Value: old.Value})
			continue
		}
		now, err := s.Client.VariablesList(ctx, s.App)
		if err != nil {
			return err
		}
		if cur := now.Get(v.Name); cur != nil {
			if err := s.Client.VariableUnset(ctx, s.App, cur.ID); err != nil && !scalingo.IsNotFound(err) {
				return err
			}
		}
	}
	if len(restore) == 0 {
		return nil
	}
	_, err := s.Client.VariableMultipleSet(ctx, s.App, restore)
	return err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Read implements Switch from the app's variables. Reason, Until and AllowedIPs
// have no variable and read back empty. An unknown app is ErrNotFound.
func (s *Scalingo) Read(ctx context.Context) (State, error) {
	names := s.Names.withDefaults()
	vs, err := s.Client.VariablesList(ctx, s.App)
	if scalingo.IsNotFound(err) {
		return State{}, fmt.Errorf("Scalingo app %s: %w", s.App, ErrNotFound)
	}
	if err != nil {
		return State{}, err
	}
	on := func(name string) bool {
		v := vs.Get(name)
		return v != nil && (v.Value == "1" || v.Value == "true")
	}
	st := State{}
	switch {
	case on(names.Enable):
		st.Enabled = true
	case on(names.BannerEnable):
		st.Enabled, st.Banner = true, true
	}
	if v := vs.Get(names.BannerMessage); v != nil {
		st.Message = v.Value
	}
	return st, nil
}
