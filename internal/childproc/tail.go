package childproc

import "sync"

// Tail keeps the last Max bytes written to it: a child's stderr, kept to
// explain its death in an error. Safe for concurrent use.
type Tail struct {
	Max int

	mu  sync.Mutex
	buf []byte
}

func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.Max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// Suffix formats the tail for the end of an error message, naming whose
// stderr it is; empty when nothing was written.
func (t *Tail) Suffix(who string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return ""
	}
	return "; " + who + " stderr: " + string(t.buf)
}
