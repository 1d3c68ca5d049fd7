//go:build !linux

package httpguard

import "net"

func limitUnsent(net.Conn) {}
