package chainlog

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/proofd/proofd/pipeline"
)

func blockEvent(height uint64, fork byte, payload string) pipeline.Event {
	b := &pipeline.Block{Height: height, Hash: pipeline.Hash{fork, byte(height)}, Parent: pipeline.Hash{fork, byte(height - 1)}, Txs: 3}
	return pipeline.Event{Block: b, Payload: []byte(payload)}
}

func replayAll(t *testing.T, l *Log) []pipeline.Event {
	t.Helper()
	var out []pipeline.Event
	if err := l.Replay(func(_ uint64, ev pipeline.Event) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLogSurvivesReopenAndRebase(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := []pipeline.Event{blockEvent(1, 1, "a1"), blockEvent(2, 1, "a2"), blockEvent(2, 2, "b2"), {Finalize: 1}, blockEvent(3, 1, "a3"), {Finalize: 3}}
	for _, ev := range evs {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	job := pipeline.JobID{Stage: pipeline.StageBatch, Height: 3, Block: pipeline.Hash{1, 3}}
	if err := l.Begin(job, 2); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Next() != uint64(len(evs)) {
		t.Fatalf("next %d after reopen, want %d", l.Next(), len(evs))
	}
	if got := replayAll(t, l); !reflect.DeepEqual(got, evs) {
		t.Fatalf("replayed %+v, want %+v", got, evs)
	}
	if ev, ok, err := l.Event(2); err != nil || !ok || !reflect.DeepEqual(ev, evs[2]) {
		t.Fatalf("Event(2) = %+v, %v, %v; want %+v", ev, ok, err, evs[2])
	}
	if _, ok, err := l.Event(99); ok || err != nil {
		t.Fatalf("Event(99): ok %v, %v", ok, err)
	}
	inflight, err := l.InFlight()
	if err != nil || !reflect.DeepEqual(inflight, map[pipeline.JobID]int{job: 2}) {
		t.Fatalf("in flight %v, %v", inflight, err)
	}
	if _, ok, _ := l.Base(); ok {
		t.Fatal("a base before any rebase")
	}
	cp := pipeline.Checkpoint{Height: 2, Hash: pipeline.Hash{1, 2}}
	if err := l.Rebase(cp); err != nil {
		t.Fatal(err)
	}
	if got, want := replayAll(t, l), []pipeline.Event{evs[4], evs[5]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after rebase replayed %+v, want %+v", got, want)
	}
	if err := l.End(job); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, ok, err := l.Base(); err != nil || !ok || got != cp {
		t.Fatalf("base %v %v %v, want %v", got, ok, err, cp)
	}
	if l.Next() != uint64(len(evs)) {
		t.Fatalf("next %d after rebase and reopen, want %d", l.Next(), len(evs))
	}
	if inflight, _ := l.InFlight(); len(inflight) != 0 {
		t.Fatalf("journal %v after End", inflight)
	}
}

func TestLogNamesCorruptEvent(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(blockEvent(1, 1, "payload")); err != nil {
		t.Fatal(err)
	}
	v := encodeEvent(blockEvent(1, 1, "payload"))
	v[len(v)-1] ^= 1
	if err := l.db.Set(eventKey(0), v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	err = l.Replay(func(uint64, pipeline.Event) error { t.Fatal("replayed a corrupt event"); return nil })
	if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("event 0")) {
		t.Fatalf("replay of a corrupt event: %v", err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(encodeEvent(blockEvent(7, 1, "payload")))
	f.Add(encodeEvent(pipeline.Event{Finalize: 9}))
	f.Add([]byte{1, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, v []byte) {
		ev, err := decodeEvent(v)
		if err != nil {
			return
		}
		if again := encodeEvent(ev); !bytes.Equal(again, v) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, v)
		}
	})
}
