package gnarkio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// LengthGuard feeds bytes to gnark's decoders and refuses a declared slice
// length that the rest of the input cannot hold. gnark-crypto's decoders
// read every slice length as one 4-byte big-endian read and allocate that
// many elements before reading them, so a flipped bit could otherwise ask
// for gigabytes. Every element of every slice they decode takes at least 4
// bytes, so a length above remaining/4 is impossible in a valid encoding.
type LengthGuard struct {
	r    *bytes.Reader
	size int64
}

// NewLengthGuard reads data through the guard.
func NewLengthGuard(data []byte) *LengthGuard {
	return &LengthGuard{r: bytes.NewReader(data), size: int64(len(data))}
}

func (g *LengthGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if len(p) == 4 && n == 4 {
		if v := int64(binary.BigEndian.Uint32(p)); v > int64(g.r.Len())/4 {
			// Report no bytes read: io.ReadFull drops an error that comes
			// with a full buffer.
			return 0, fmt.Errorf("length %d at offset %d exceeds what the remaining %d bytes can hold",
				v, g.size-int64(g.r.Len())-4, g.r.Len())
		}
	}
	return n, err
}

// ReadAll runs gnark's decoder on data, turning a panic into an error and
// insisting every byte is consumed.
func ReadAll(r io.ReaderFrom, data []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt: decoder failed: %v", p)
		}
	}()
	n, err := r.ReadFrom(NewLengthGuard(data))
	if err != nil {
		return fmt.Errorf("corrupt or truncated: %v", err)
	}
	if n != int64(len(data)) {
		return fmt.Errorf("%d trailing bytes after %d bytes of data", int64(len(data))-n, n)
	}
	return nil
}

// UnsafeReadAll is ReadAll for trusted bytes (checked digest): no subgroup checks.
func UnsafeReadAll(r interface {
	UnsafeReadFrom(io.Reader) (int64, error)
}, data []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt: decoder failed: %v", p)
		}
	}()
	n, err := r.UnsafeReadFrom(NewLengthGuard(data))
	if err != nil {
		return fmt.Errorf("corrupt or truncated: %v", err)
	}
	if n != int64(len(data)) {
		return fmt.Errorf("%d trailing bytes after %d bytes of data", int64(len(data))-n, n)
	}
	return nil
}
