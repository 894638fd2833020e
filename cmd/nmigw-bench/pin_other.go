//go:build !linux

package main

import (
	"errors"
	"os/exec"
)

type cpuPlan struct{}

func planCPUs() (*cpuPlan, error)            { return nil, errors.New("pin: only on Linux") }
func (p *cpuPlan) start(cmd *exec.Cmd) error { return cmd.Start() }
func (p *cpuPlan) pinSelf() error            { return nil }
func cpusAllowed(string) string              { return "?" }
