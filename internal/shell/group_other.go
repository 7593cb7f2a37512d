//go:build !unix

package shell

import "syscall"

// group, without Unix process groups, is nothing: Run kills the script's own
// process, and its children are not tracked.
type group struct{}

func newGroup() (*group, error) { return &group{}, nil }

func (g *group) attr() *syscall.SysProcAttr { return nil }
func (g *group) kill()                      {}
func (g *group) release()                   {}
