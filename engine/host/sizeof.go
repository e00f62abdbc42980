package host

import "reflect"

// SizeOf estimates the bytes of Go memory reachable from v: the value
// itself and every slice backing array (by capacity), string, map entry
// and pointer target it leads to, each pointer target counted once. It is
// how engines size a decoded object for the Budget without trusting a
// count from its encoding: it measures what the decoder actually built.
// Maps count their entries, not the hash table's spare room, and memory
// behind unsafe.Pointer or uintptr is not seen, so it is a lower bound
// within a map's overhead.
func SizeOf(v any) uint64 {
	if v == nil {
		return 0
	}
	w := sizeWalker{seen: map[seenKey]bool{}, refs: map[reflect.Type]bool{}}
	rv := reflect.ValueOf(v)
	return uint64(rv.Type().Size()) + w.inner(rv)
}

type seenKey struct {
	addr uintptr
	typ  reflect.Type
}

type sizeWalker struct {
	seen map[seenKey]bool
	refs map[reflect.Type]bool // hasRefs, remembered: big slices repeat one type
}

func (w *sizeWalker) hasRefs(t reflect.Type) bool {
	r, ok := w.refs[t]
	if !ok {
		r = hasRefs(t)
		w.refs[t] = r
	}
	return r
}

// firstVisit reports whether the memory v points at is met for the first
// time, and remembers it: shared memory is counted once.
func (w *sizeWalker) firstVisit(v reflect.Value) bool {
	k := seenKey{v.Pointer(), v.Type()}
	if w.seen[k] {
		return false
	}
	w.seen[k] = true
	return true
}

// inner is the memory v refers to beyond its own Type().Size() bytes.
func (w *sizeWalker) inner(v reflect.Value) uint64 {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || !w.firstVisit(v) {
			return 0
		}
		e := v.Elem()
		return uint64(e.Type().Size()) + w.inner(e)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer { // the interface holds the pointer itself
			return w.inner(e)
		}
		return uint64(e.Type().Size()) + w.inner(e)
	case reflect.String:
		return uint64(v.Len())
	case reflect.Slice:
		if v.IsNil() || v.Cap() == 0 || !w.firstVisit(v) {
			return 0
		}
		n := uint64(v.Cap()) * uint64(v.Type().Elem().Size())
		if w.hasRefs(v.Type().Elem()) {
			for i := range v.Len() {
				n += w.inner(v.Index(i))
			}
		}
		return n
	case reflect.Array:
		var n uint64
		if w.hasRefs(v.Type().Elem()) {
			for i := range v.Len() {
				n += w.inner(v.Index(i))
			}
		}
		return n
	case reflect.Struct:
		var n uint64
		for i := range v.NumField() {
			if w.hasRefs(v.Type().Field(i).Type) {
				n += w.inner(v.Field(i))
			}
		}
		return n
	case reflect.Map:
		if v.IsNil() || !w.firstVisit(v) {
			return 0
		}
		kt, et := v.Type().Key(), v.Type().Elem()
		n := uint64(v.Len()) * uint64(kt.Size()+et.Size())
		if w.hasRefs(kt) || w.hasRefs(et) {
			it := v.MapRange()
			for it.Next() {
				n += w.inner(it.Key()) + w.inner(it.Value())
			}
		}
		return n
	}
	return 0
}

// hasRefs reports whether a value of t can lead to memory outside itself.
func hasRefs(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.String, reflect.Slice, reflect.Map:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasRefs(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasRefs(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
