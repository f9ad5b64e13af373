//go:build !linux

package ldaptarget

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
