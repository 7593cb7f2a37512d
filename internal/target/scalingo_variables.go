package target

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
)

// savedVariables is what the variables a deployment changed were before it:
// the value of those that existed, and the ids of those it created.
type savedVariables struct {
	values  map[string]string
	created map[string]string // name → id
}

func (v *savedVariables) names() []string {
	var out []string
	for n := range v.values {
		out = append(out, n)
	}
	for n := range v.created {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// setVariables writes the variables that differ from the app's in one request
// and returns what they were (nil when nothing changed). Values are never logged.
func (s *Scalingo) setVariables(ctx context.Context) (*savedVariables, error) {
	if len(s.Variables) == 0 {
		return nil, nil
	}
	current, err := s.Client.VariablesList(ctx, s.App)
	if err != nil {
		return nil, fmt.Errorf("reading the variables of %s before the deployment: %w. Nothing was changed", s.App, err)
	}
	saved := &savedVariables{values: map[string]string{}, created: map[string]string{}}
	var set scalingo.Variables
	for _, name := range slices.Sorted(maps.Keys(s.Variables)) {
		value := s.Variables[name]
		cur := current.Get(name)
		switch {
		case cur == nil:
			saved.created[name] = ""
		case cur.Value == value:
			continue
		default:
			saved.values[name] = cur.Value
		}
		set = append(set, &scalingo.Variable{Name: name, Value: value})
	}
	if len(set) == 0 {
		return nil, nil
	}
	res, err := s.Client.VariableMultipleSet(ctx, s.App, set)
	if err != nil {
		return nil, fmt.Errorf("setting the variables %v of %s before the deployment: %w. The deployment did not start", saved.names(), s.App, err)
	}
	for _, v := range res {
		if _, ok := saved.created[v.Name]; ok {
			saved.created[v.Name] = v.ID
		}
	}
	logging.Info(ctx, "Scalingo variables set for the deployment", "app", s.App, "names", fmt.Sprint(saved.names()))
	return saved, nil
}

// putBack restores the variables setVariables changed: old values again, and
// the variables it created deleted.
func (s *Scalingo) putBack(ctx context.Context, saved *savedVariables) error {
	if saved == nil {
		return nil
	}
	if len(saved.values) > 0 {
		var vs scalingo.Variables
		for _, name := range slices.Sorted(maps.Keys(saved.values)) {
			vs = append(vs, &scalingo.Variable{Name: name, Value: saved.values[name]})
		}
		if _, err := s.Client.VariableMultipleSet(ctx, s.App, vs); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(saved.created)) {
		id := saved.created[name]
		if id == "" {
			list, err := s.Client.VariablesList(ctx, s.App)
			if err != nil {
				return err
			}
			if v := list.Get(name); v != nil {
				id = v.ID
			}
		}
		if id == "" {
			continue
		}
		if err := s.Client.VariableUnset(ctx, s.App, id); err != nil && !scalingo.IsNotFound(err) {
			return err
		}
	}
	logging.Info(ctx, "Scalingo variables put back", "app", s.App, "names", fmt.Sprint(saved.names()))
	return nil
}
