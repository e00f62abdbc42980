package protocol

import (
	"fmt"
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
const announcePrefix = "proofd-engine"

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
		return Announcement{}, fmt.Errorf("engine announce line %q: want %s|VERSION|unix|PATH|grpc", truncate(line, 120), announcePrefix)
	}
	v, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return Announcement{}, fmt.Errorf("engine announce line %q: bad protocol version: %w", truncate(line, 120), err)
	}
	if parts[2] != "unix" {
		return Announcement{}, fmt.Errorf("engine announce line %q: network %q is not supported", truncate(line, 120), parts[2])
	}
	if parts[3] == "" {
		return Announcement{}, fmt.Errorf("engine announce line %q: empty socket path", truncate(line, 120))
	}
	return Announcement{Version: uint32(v), Network: parts[2], Address: parts[3]}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
