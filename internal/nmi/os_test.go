package nmi

import "os"

func osGetpid() int { return os.Getpid() }
func osGetuid() int { return os.Getuid() }
func osGetgid() int { return os.Getgid() }
