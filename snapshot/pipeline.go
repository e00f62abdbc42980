package snapshot

import (
	"errors"
	"sync"
)

var errStopped = errors.New("stopped")

// runOrdered runs work on each item produce yields, on n goroutines, and
// hands finished items to emit one at a time in the order they were
// yielded. At most 2n items wait between produce and emit, so memory stays
// bounded by what 2n+2 items hold. The first error stops production; every
// goroutine has exited when runOrdered returns.
//
// produce runs on the caller's goroutine, emit on one other goroutine, so
// each may use state that is not safe for concurrent use, but not the same
// state as the other.
func runOrdered[T any](n int, produce func(yield func(T) bool) error, work func(worker int, item T) error, emit func(T) error) error {
	type slot struct {
		item T
		err  error
		done chan struct{}
	}
	jobs := make(chan *slot)
	order := make(chan *slot, 2*n)
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }

	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for s := range jobs {
				select {
				case <-stop:
					s.err = errStopped
				default:
					s.err = work(w, s.item)
				}
				close(s.done)
			}
		})
	}
	emitted := make(chan error, 1)
	go func() {
		var first error
		for s := range order {
			<-s.done
			if first != nil {
				continue
			}
			first = s.err
			if first == nil {
				first = emit(s.item)
			}
			if first != nil {
				halt()
			}
		}
		emitted <- first
	}()

	err := produce(func(item T) bool {
		s := &slot{item: item, done: make(chan struct{})}
		select {
		case order <- s:
		case <-stop:
			return false
		}
		select {
		case jobs <- s:
			return true
		case <-stop:
			s.err = errStopped
			close(s.done)
			return false
		}
	})
	if err != nil {
		halt()
	}
	close(jobs)
	close(order)
	wg.Wait()
	if eerr := <-emitted; eerr != nil && !errors.Is(eerr, errStopped) {
		return eerr
	}
	return err
}
