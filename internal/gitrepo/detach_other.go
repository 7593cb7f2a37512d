//go:build !unix

package gitrepo

import "os/exec"

// detach does nothing where sessions do not exist; GIT_TERMINAL_PROMPT=0 still
// keeps git itself from prompting.
func detach(*exec.Cmd) {}
