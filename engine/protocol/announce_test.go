package protocol

import "testing"

func TestAnnouncementRoundTrip(t *testing.T) {
	for _, a := range []Announcement{
		{Version: Version, Network: "unix", Address: "/tmp/x/engine.sock"},
		{Version: Version, Network: "tcp", Address: "127.0.0.1:7070"},
		{Version: Version, Network: "tcp", Address: "[::1]:7070"},
		{Version: Version, Network: "tcp", Address: "engine.example:443"},
	} {
		got, err := ParseAnnouncement(a.String() + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if got != a {
			t.Fatalf("got %+v, want %+v", got, a)
		}
	}
}

func TestParseAnnouncementRejects(t *testing.T) {
	for _, line := range []string{
		"", "hello world", "proofd-engine|x|unix|/s|grpc", "proofd-engine|1|tcp|/s|grpc",
		"proofd-engine|1|tcp|127.0.0.1|grpc", "proofd-engine|1|tcp|127.0.0.1:0|grpc", "proofd-engine|1|tcp|:7070|grpc",
		"proofd-engine|1|tcp|127.0.0.1:70000|grpc", "proofd-engine|1|udp|127.0.0.1:7070|grpc",
		"proofd-engine|1|unix||grpc", "proofd-engine|1|unix|/s|netrpc", "proofd-engine|1|unix|/s",
	} {
		if _, err := ParseAnnouncement(line); err == nil {
			t.Errorf("ParseAnnouncement(%q) accepted", line)
		}
	}
}

func FuzzParseAnnouncement(f *testing.F) {
	f.Add("proofd-engine|1|unix|/tmp/a/engine.sock|grpc\n")
	f.Add("proofd-engine|99999999999|unix|/|grpc")
	f.Fuzz(func(t *testing.T, line string) {
		a, err := ParseAnnouncement(line)
		if err == nil && (a.Address == "" || (a.Network != "unix" && a.Network != "tcp")) {
			t.Fatalf("accepted %q as %+v", line, a)
		}
	})
}
