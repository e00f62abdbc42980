package bbapi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// DefaultMaxFrame is the largest reply Process accepts when Config.MaxFrame
// is zero. bb's replies are proofs and keys of tens of KiB and Solidity
// verifiers of about 100 KiB; 64 MiB leaves room without letting a broken
// peer make us allocate gigabytes.
const DefaultMaxFrame = 64 << 20

// maxDepth bounds the nesting of a reply. bb's deepest reply,
// [name, {vk: {fields: [bin]}}], is 4 deep.
const maxDepth = 16

var (
	// ErrFrameTooLarge is a frame whose length prefix is over the limit.
	// Its body was not read, so the stream cannot be used any further.
	ErrFrameTooLarge = errors.New("bbapi: frame over the size limit")
	// ErrMalformed is a reply frame that is not a response bb's schema
	// allows: not msgpack, not a [name, body] array, an unknown name, or a
	// body that does not fit the named response.
	ErrMalformed = errors.New("bbapi: malformed reply")
)

// WriteFrame writes v as one frame: its msgpack encoding prefixed by the
// encoding's length as 4 bytes little-endian.
func WriteFrame(w io.Writer, v any) error {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return fmt.Errorf("bbapi: encode frame: %w", err)
	}
	if len(body) > math.MaxUint32 {
		return fmt.Errorf("%w: %d bytes cannot be framed (at most %d)", ErrFrameTooLarge, len(body), uint32(math.MaxUint32))
	}
	// One write: a frame under the pipe's atomic size reaches bb whole or
	// not at all, so a bb that read any of it has all of it.
	frame := make([]byte, 4, 4+len(body))
	binary.LittleEndian.PutUint32(frame, uint32(len(body)))
	if _, err := w.Write(append(frame, body...)); err != nil {
		return fmt.Errorf("bbapi: write frame: %w", err)
	}
	return nil
}

// WriteCommand writes cmd as bb's API takes a request: a frame holding
// [[name, body]]. A nil slice in cmd is sent as an empty one: msgpack
// encodes it as nil, which bb 5.0.0 does not answer but aborts on.
func WriteCommand(w io.Writer, cmd Command) error {
	body := withEmptySlices(reflect.ValueOf(cmd).Elem()).Interface()
	return WriteFrame(w, []any{[]any{cmd.CommandName(), body}})
}

// withEmptySlices returns a copy of v in which every nil slice, in v or in
// the structs it holds, is an empty one.
func withEmptySlices(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return reflect.MakeSlice(v.Type(), 0, 0)
		}
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := range c.NumField() {
			if f := c.Field(i); f.CanSet() {
				f.Set(withEmptySlices(f))
			}
		}
		return c
	}
	return v
}

// ReadFrame reads one frame and returns its body. The length prefix is
// checked against max before anything is allocated, so a peer cannot make
// ReadFrame allocate more than max bytes. It returns io.EOF when r ends
// cleanly before a frame, an error wrapping io.ErrUnexpectedEOF when r ends
// inside one, and an error wrapping ErrFrameTooLarge (with the body left
// unread) when the prefix is over max.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("bbapi: short frame header: %w", err)
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if max < 0 || uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: length prefix says %d bytes, limit is %d", ErrFrameTooLarge, n, max)
	}
	body := make([]byte, n)
	if got, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("bbapi: short frame body: %d of %d bytes: %w", got, n, err)
	}
	return body, nil
}

// ReadResponse reads one frame of at most max bytes and decodes it.
func ReadResponse(r io.Reader, max int) (Response, error) {
	frame, err := ReadFrame(r, max)
	if err != nil {
		return nil, err
	}
	return DecodeResponse(frame)
}

// DecodeResponse decodes a reply frame's body, [name, body], into the
// response type of that name. Every error wraps ErrMalformed and says what
// was wrong. What it allocates is bounded by a small multiple of
// len(frame): every count in the frame is checked against the bytes left
// before the decoder sees it.
func DecodeResponse(frame []byte) (Response, error) {
	if err := checkBounds(frame); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	d := msgpack.NewDecoder(bytes.NewReader(frame))
	if n, err := d.DecodeArrayLen(); err != nil || n != 2 {
		return nil, fmt.Errorf("%w: not a 2-element [name, body] array", ErrMalformed)
	}
	name, err := d.DecodeString()
	if err != nil {
		return nil, fmt.Errorf("%w: response name is not a string: %v", ErrMalformed, err)
	}
	mk, ok := responses[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown response %q", ErrMalformed, name)
	}
	resp := mk()
	if err := d.Decode(resp); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformed, name, err)
	}
	return resp, nil
}

// checkBounds walks one msgpack value that must fill b exactly, and
// refuses any array, map, string or binary whose count is more than the
// bytes left, nesting deeper than maxDepth, and extension types (bb sends
// none). msgpack/v5 v5.4.x sizes a slice by the count it reads, whatever
// its allocation limit says (vmihailenco/msgpack#401; v5.3.x caps it at a
// million elements, still 32 MiB of fields), so this walk is what keeps a
// 5-byte array header from costing gigabytes.
func checkBounds(b []byte) error {
	rd := bytes.NewReader(b)
	d := msgpack.NewDecoder(rd) // reads rd directly: rd.Len() is what is left
	if err := walk(d, rd, 0); err != nil {
		return err
	}
	if rd.Len() != 0 {
		return fmt.Errorf("%d bytes after the value", rd.Len())
	}
	return nil
}

func walk(d *msgpack.Decoder, rd *bytes.Reader, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d", maxDepth)
	}
	c, err := d.PeekCode()
	if err != nil {
		return fmt.Errorf("truncated value: %v", err)
	}
	switch {
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return err
		}
		if n > rd.Len() {
			return fmt.Errorf("array of %d elements with %d bytes left", n, rd.Len())
		}
		for range n {
			if err := walk(d, rd, depth+1); err != nil {
				return err
			}
		}
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return err
		}
		if n > rd.Len()/2 {
			return fmt.Errorf("map of %d entries with %d bytes left", n, rd.Len())
		}
		for range 2 * n {
			if err := walk(d, rd, depth+1); err != nil {
				return err
			}
		}
	case msgpcode.IsString(c) || msgpcode.IsBin(c):
		n, err := d.DecodeBytesLen()
		if err != nil {
			return err
		}
		if n > rd.Len() {
			return fmt.Errorf("string or binary of %d bytes with %d bytes left", n, rd.Len())
		}
		if _, err := rd.Seek(int64(n), io.SeekCurrent); err != nil {
			return err
		}
	case msgpcode.IsExt(c):
		return fmt.Errorf("extension type (code 0x%02x)", c)
	default: // nil, bool, numbers: fixed size, nothing to allocate
		if err := d.Skip(); err != nil {
			return fmt.Errorf("truncated value: %v", err)
		}
	}
	return nil
}
