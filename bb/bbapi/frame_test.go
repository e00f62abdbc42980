package bbapi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/proofd/proofd/bb/bbapi"
)

// frame prefixes body with its length, as bb does.
func frame(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
}

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrameRoundTrip(t *testing.T) {
	want := &bbapi.CircuitVerifyResponse{Verified: true}
	var buf bytes.Buffer
	if err := bbapi.WriteFrame(&buf, []any{want.ResponseName(), want}); err != nil {
		t.Fatal(err)
	}
	got, err := bbapi.ReadResponse(&buf, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.(*bbapi.CircuitVerifyResponse); !ok || !v.Verified {
		t.Fatalf("got %#v", got)
	}
	if _, err := bbapi.ReadFrame(&buf, 1<<10); err != io.EOF {
		t.Fatalf("read past the last frame: %v, want io.EOF", err)
	}
}

// A request is [[name, body]], and a nil slice goes as an empty bin or
// array: bb aborts on msgpack nil where it wants a vector.
func TestWriteCommand(t *testing.T) {
	var buf bytes.Buffer
	cmd := &bbapi.CircuitVerify{Proof: []bbapi.Field{{1}}, Settings: bbapi.Settings{OracleHashType: "keccak"}}
	if err := bbapi.WriteCommand(&buf, cmd); err != nil {
		t.Fatal(err)
	}
	body, err := bbapi.ReadFrame(&buf, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]msgpack.RawMessage
	if err := msgpack.Unmarshal(body, &got); err != nil || len(got) != 1 || len(got[0]) != 2 {
		t.Fatalf("request is not [[name, body]]: %v %x", err, body)
	}
	var name string
	var fields map[string]any
	if err := msgpack.Unmarshal(got[0][0], &name); err != nil || name != "CircuitVerify" {
		t.Fatalf("name %q, %v", name, err)
	}
	if err := msgpack.Unmarshal(got[0][1], &fields); err != nil {
		t.Fatal(err)
	}
	if vk, ok := fields["verification_key"].([]byte); !ok || len(vk) != 0 {
		t.Errorf("nil verification_key sent as %#v, want an empty bin", fields["verification_key"])
	}
	if pi, ok := fields["public_inputs"].([]any); !ok || len(pi) != 0 {
		t.Errorf("nil public_inputs sent as %#v, want an empty array", fields["public_inputs"])
	}
	if p, ok := fields["proof"].([]any); !ok || len(p) != 1 || !bytes.Equal(p[0].([]byte), append([]byte{1}, make([]byte, 31)...)) {
		t.Errorf("proof sent as %#v, want one 32-byte bin", fields["proof"])
	}
	if cmd.VerificationKey != nil || cmd.PublicInputs != nil {
		t.Error("WriteCommand changed the caller's command")
	}
}

func TestReadFrameErrors(t *testing.T) {
	for _, c := range []struct {
		name, in string
		is       error
		msg      string
	}{
		{"empty", "", io.EOF, ""},
		{"short header", "\x01\x00", io.ErrUnexpectedEOF, "short frame header"},
		{"short body", "\x05\x00\x00\x00abc", io.ErrUnexpectedEOF, "3 of 5 bytes"},
		{"oversized", "\xff\xff\xff\xffabc", bbapi.ErrFrameTooLarge, "4294967295 bytes, limit is 16"},
	} {
		_, err := bbapi.ReadFrame(strings.NewReader(c.in), 16)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.is, c.msg)
		}
	}
}

func TestDecodeResponseErrors(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, 100) // [[[[...
	deep = append(deep, 0xc0)
	for _, c := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"not msgpack", []byte{0xc1}, "truncated value"},
		{"not an array", encode(t, "CircuitVerifyResponse"), "not a 2-element [name, body] array"},
		{"three elements", encode(t, []any{"CircuitVerifyResponse", map[string]any{}, 1}), "not a 2-element"},
		{"name not a string", encode(t, []any{1, map[string]any{}}), "response name is not a string"},
		{"unknown name", encode(t, []any{"CircuitFrobnicateResponse", map[string]any{}}), `unknown response "CircuitFrobnicateResponse"`},
		{"wrong body", encode(t, []any{"CircuitVerifyResponse", map[string]any{"verified": "yes"}}), "CircuitVerifyResponse body"},
		{"short field", encode(t, []any{"CircuitProveResponse", map[string]any{"proof": [][]byte{{1, 2}}}}), "field element of 2 bytes, want 32"},
		{"trailing bytes", append(encode(t, []any{"ShutdownResponse", map[string]any{}}), 0), "1 bytes after the value"},
		{"too deep", deep, "nested deeper than"},
		{"extension", []byte{0xd4, 1, 0}, "extension type"},
		// Counts a peer sent are checked against the bytes left before
		// msgpack's decoder (which allocates by them) sees them.
		{"huge array", append(encode(t, "x")[:0], 0x92, 0xb4, 'C', 'i', 'r', 'c', 'u', 'i', 't', 'P', 'r', 'o', 'v', 'e', 'R', 'e', 's', 'p', 'o', 'n', 's', 'e', 0x81, 0xa5, 'p', 'r', 'o', 'o', 'f', 0xdd, 0x7f, 0xff, 0xff, 0xff), "array of 2147483647 elements with 0 bytes left"},
		{"huge map", []byte{0xdf, 0x7f, 0xff, 0xff, 0xff}, "map of 2147483647 entries"},
		{"huge bin", []byte{0xc6, 0x7f, 0xff, 0xff, 0xff}, "binary of 2147483647 bytes"},
	} {
		_, err := bbapi.DecodeResponse(c.in)
		if !errors.Is(err, bbapi.ErrMalformed) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want ErrMalformed saying %q", c.name, err, c.msg)
		}
	}
}

// seeds are well-formed replies and near misses for the fuzzers.
func seeds(f *testing.F) [][]byte {
	var fields []bbapi.Field
	for i := range 3 {
		fields = append(fields, bbapi.Field{byte(i)})
	}
	var out [][]byte
	for _, r := range []bbapi.Response{
		&bbapi.ErrorResponse{Message: "bad"},
		&bbapi.CircuitProveResponse{PublicInputs: fields[:1], Proof: fields, Vk: bbapi.CircuitComputeVkResponse{Bytes: []byte{1, 2}, Fields: fields, Hash: []byte{3}}},
		&bbapi.CircuitComputeVkResponse{Bytes: []byte{1}, Fields: fields},
		&bbapi.CircuitInfoResponse{NumGates: 5, NumGatesDyadic: 8, GatesPerOpcode: []uint32{1, 2}},
		&bbapi.CircuitVerifyResponse{Verified: true},
		&bbapi.CircuitWriteSolidityVerifierResponse{SolidityCode: "contract C {}"},
		&bbapi.ShutdownResponse{},
	} {
		out = append(out, encode(f, []any{r.ResponseName(), r}))
	}
	return append(out, []byte{0x92, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff}, []byte{0xdc, 0xff, 0xff})
}

// allocated runs fn and returns the bytes it allocated (with whatever else
// ran meanwhile, which in a fuzz worker is little).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// slack covers the decoder's fixed costs (reflection caches, buffers).
const slack = 256 << 10

func FuzzReadFrame(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(append(frame(s), s...))
	}
	f.Add([]byte("\xff\xff\xff\xff"))
	const max = 4 << 10
	f.Fuzz(func(t *testing.T, in []byte) {
		var body []byte
		var err error
		n := allocated(func() { body, err = bbapi.ReadFrame(bytes.NewReader(in), max) })
		if err == nil && (len(body) > max || uint32(len(body)) != binary.LittleEndian.Uint32(in)) {
			t.Fatalf("body of %d bytes from a frame of %x..., max %d", len(body), in[:4], max)
		}
		if n > max+slack {
			t.Fatalf("allocated %d bytes with max %d", n, max)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var resp bbapi.Response
		var err error
		// A Field is 32 bytes decoded from at least one byte sent: bounded
		// by a small multiple of the frame, never by a count in it.
		n := allocated(func() { resp, err = bbapi.DecodeResponse(in) })
		if (resp == nil) == (err == nil) {
			t.Fatalf("response %v with error %v", resp, err)
		}
		if err != nil && !errors.Is(err, bbapi.ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		if lim := uint64(64*len(in) + slack); n > lim {
			t.Fatalf("allocated %d bytes for a %d-byte frame", n, len(in))
		}
	})
}
