package protocol

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Version is the engine protocol version this build speaks.
const Version = 1

// MaxMessageBytes is the default bound on one gRPC message, each way. An
// engine may announce a different bound in its handshake.
const MaxMessageBytes = 64 << 20

// FlowWindowBytes is the HTTP/2 flow-control window both sides set: one
// message's worth, so a full-size message never waits for a window update.
const FlowWindowBytes = MaxMessageBytes

// announcePrefix starts the one line an engine writes to stdout:
//
//	proofd-engine|<protocol version>|unix|<socket path>|grpc
//	proofd-engine|<protocol version>|tcp|<host:port>|grpc
//
// Network tcp always means gRPC over mutual TLS: there is no insecure TCP
// engine.
const announcePrefix = "proofd-engine"

// Networks an engine may announce.
const (
	NetworkUnix = "unix"
	NetworkTCP  = "tcp" // mutual TLS, always
)

// Announcement is what an engine says about itself on stdout once it listens.
type Announcement struct {
	Version uint32
	Network string
	Address string
}

// String formats the announce line without its trailing newline.
func (a Announcement) String() string {
	return fmt.Sprintf("%s|%d|%s|%s|grpc", announcePrefix, a.Version, a.Network, a.Address)
}

// ParseAnnouncement parses an engine's announce line.
func ParseAnnouncement(line string) (Announcement, error) {
	line = strings.TrimRight(line, "\r\n")
	parts := strings.Split(line, "|")
	if len(parts) != 5 || parts[0] != announcePrefix || parts[4] != "grpc" {
		return Announcement{}, fmt.Errorf("engine announce line %q: want %s|VERSION|unix|PATH|grpc or %s|VERSION|tcp|HOST:PORT|grpc", truncate(line, 120), announcePrefix, announcePrefix)
	}
	v, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return Announcement{}, fmt.Errorf("engine announce line %q: bad protocol version: %w", truncate(line, 120), err)
	}
	switch parts[2] {
	case NetworkUnix:
		if parts[3] == "" {
			return Announcement{}, fmt.Errorf("engine announce line %q: empty socket path", truncate(line, 120))
		}
	case NetworkTCP:
		if err := checkTCPAddress(parts[3]); err != nil {
			return Announcement{}, fmt.Errorf("engine announce line %q: %w", truncate(line, 120), err)
		}
	default:
		return Announcement{}, fmt.Errorf("engine announce line %q: network %q is not supported", truncate(line, 120), parts[2])
	}
	return Announcement{Version: uint32(v), Network: parts[2], Address: parts[3]}, nil
}

// checkTCPAddress accepts HOST:PORT with a non-empty host and a port in
// 1..65535: the address an engine actually listens on, never port 0.
func checkTCPAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("tcp address %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("tcp address %q: empty host", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("tcp address %q: port %q is not in 1..65535", addr, port)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
