//go:build !linux

package scimtarget

import "syscall"

// lock is a no-op off Linux: run test packages one at a time (-p 1) the
// first time, while npm installs the server.
func lock(string) (unlock func(), err error) { return func() {}, nil }

func sysProcAttr() *syscall.SysProcAttr { return nil }
