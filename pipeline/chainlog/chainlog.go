package chainlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/proofd/proofd/pipeline"
)

// MaxPayloadBytes bounds one block's payload.
const MaxPayloadBytes = 64 << 20

// ErrCorrupt: a stored value fails its checksum or layout.
var ErrCorrupt = errors.New("chain log value is corrupt")

const (
	valueVersion  = 1
	kindBlock     = 1
	kindFinalize  = 2
	jobKeyLen     = 1 + 1 + 8 + 32 + 8
	eventKeyLen   = 1 + 8
	blockBodyLen  = 8 + 32 + 32 + 4 + 4
	valueHeadLen  = 1 + 4 + 1
	prefixBase    = 'b'
	prefixEvent   = 'e'
	prefixJournal = 'j'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a Log; the zero value is usable.
type Options struct {
	// FS is the filesystem (default vfs.Default); tests inject faults.
	FS vfs.FS
}

// Log is the durable accepted chain in one directory.
type Log struct {
	db   *pebble.DB
	next uint64 // sequence number of the next event
}

// Open opens (creating if need be) the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	db, err := pebble.Open(dir, &pebble.Options{FS: opts.FS, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("chainlog: open %s: %w", dir, err)
	}
	l := &Log{db: db}
	last, err := l.lastSeq()
	if err != nil {
		db.Close()
		return nil, err
	}
	l.next = last
	return l, nil
}

// lastSeq returns one past the last event's sequence number, or what the
// base recorded when every event was dropped by Rebase.
func (l *Log) lastSeq() (uint64, error) {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEvent}, UpperBound: []byte{prefixEvent + 1}})
	if err != nil {
		return 0, fmt.Errorf("chainlog: %w", err)
	}
	defer it.Close()
	if it.Last() {
		k := it.Key()
		if len(k) != eventKeyLen {
			return 0, fmt.Errorf("chainlog: event key %x: %d bytes, want %d: %w", k, len(k), eventKeyLen, ErrCorrupt)
		}
		return binary.BigEndian.Uint64(k[1:]) + 1, nil
	}
	_, next, _, err := l.base()
	return next, err
}

// Close closes the database.
func (l *Log) Close() error { return l.db.Close() }

// Next is the sequence number the next appended event gets: how many
// source events have been accepted.
func (l *Log) Next() uint64 { return l.next }

// Append logs ev durably as event number Next().
func (l *Log) Append(ev pipeline.Event) error {
	if ev.Block != nil && len(ev.Payload) > MaxPayloadBytes {
		return fmt.Errorf("chainlog: block %s: payload is %d bytes, over %d", ev.Block.Hash, len(ev.Payload), MaxPayloadBytes)
	}
	if err := l.db.Set(eventKey(l.next), encodeEvent(ev), pebble.Sync); err != nil {
		return fmt.Errorf("chainlog: append event %d: %w", l.next, err)
	}
	l.next++
	return nil
}

// Base returns the checkpoint the chain grows from; ok is false until the
// first Rebase (the caller's genesis is the base).
func (l *Log) Base() (cp pipeline.Checkpoint, ok bool, err error) {
	cp, _, ok, err = l.base()
	return cp, ok, err
}

// base reads the base record: the checkpoint and the sequence number the
// next event would get when the log holds no event.
func (l *Log) base() (cp pipeline.Checkpoint, next uint64, ok bool, err error) {
	v, closer, err := l.db.Get([]byte{prefixBase})
	if errors.Is(err, pebble.ErrNotFound) {
		return cp, 0, false, nil
	}
	if err != nil {
		return cp, 0, false, fmt.Errorf("chainlog: read base: %w", err)
	}
	defer closer.Close()
	body, err := checkValue("base", v)
	if err != nil {
		return cp, 0, false, err
	}
	if len(body) != 8+32+8 {
		return cp, 0, false, fmt.Errorf("chainlog: base: %d bytes, want 48: %w", len(body), ErrCorrupt)
	}
	cp.Height = binary.BigEndian.Uint64(body)
	copy(cp.Hash[:], body[8:40])
	return cp, binary.BigEndian.Uint64(body[40:]), true, nil
}

// Rebase records cp as the new base and drops every logged event at or
// below its height (blocks, and finality no higher than it), in one
// durable batch.
func (l *Log) Rebase(cp pipeline.Checkpoint) error {
	b := l.db.NewBatch()
	defer b.Close()
	err := l.Replay(func(seq uint64, ev pipeline.Event) error {
		if (ev.Block != nil && ev.Block.Height <= cp.Height) || (ev.Block == nil && ev.Finalize <= cp.Height) {
			return b.Delete(eventKey(seq), nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	body := make([]byte, 48)
	binary.BigEndian.PutUint64(body, cp.Height)
	copy(body[8:40], cp.Hash[:])
	binary.BigEndian.PutUint64(body[40:], l.next)
	if err := b.Set([]byte{prefixBase}, sealValue(0, body), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("chainlog: rebase to %d: %w", cp.Height, err)
	}
	return nil
}

// Replay calls fn with every logged event in acceptance order.
func (l *Log) Replay(fn func(seq uint64, ev pipeline.Event) error) error {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixEvent}, UpperBound: []byte{prefixEvent + 1}})
	if err != nil {
		return fmt.Errorf("chainlog: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != eventKeyLen {
			return fmt.Errorf("chainlog: event key %x: %d bytes, want %d: %w", k, len(k), eventKeyLen, ErrCorrupt)
		}
		seq := binary.BigEndian.Uint64(k[1:])
		ev, err := decodeEvent(bytes.Clone(it.Value()))
		if err != nil {
			return fmt.Errorf("chainlog: event %d: %w", seq, err)
		}
		if err := fn(seq, ev); err != nil {
			return err
		}
	}
	return it.Error()
}

// Event returns logged event number seq; ok is false when there is none
// (never logged, or dropped by Rebase).
func (l *Log) Event(seq uint64) (ev pipeline.Event, ok bool, err error) {
	v, closer, err := l.db.Get(eventKey(seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return ev, false, nil
	}
	if err != nil {
		return ev, false, fmt.Errorf("chainlog: event %d: %w", seq, err)
	}
	ev, err = decodeEvent(bytes.Clone(v))
	closer.Close()
	if err != nil {
		return ev, false, fmt.Errorf("chainlog: event %d: %w", seq, err)
	}
	return ev, true, nil
}

// Begin journals that job's proving starts (attempt counts from 1),
// durably, before the proof is asked for.
func (l *Log) Begin(job pipeline.JobID, attempt int) error {
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, uint32(attempt))
	if err := l.db.Set(journalKey(job), sealValue(0, v), pebble.Sync); err != nil {
		return fmt.Errorf("chainlog: journal %s: %w", job, err)
	}
	return nil
}

// End removes job's journal entry: its proof is durable in the receipt
// store (or it failed for good). Not synced: an entry that survives a crash
// only names a job whose proof the restart finds by lookup.
func (l *Log) End(job pipeline.JobID) error {
	if err := l.db.Delete(journalKey(job), pebble.NoSync); err != nil {
		return fmt.Errorf("chainlog: journal %s: %w", job, err)
	}
	return nil
}

// InFlight lists the journal: jobs whose proving began and did not end,
// with the attempt that was running.
func (l *Log) InFlight() (map[pipeline.JobID]int, error) {
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixJournal}, UpperBound: []byte{prefixJournal + 1}})
	if err != nil {
		return nil, fmt.Errorf("chainlog: %w", err)
	}
	defer it.Close()
	out := map[pipeline.JobID]int{}
	for it.First(); it.Valid(); it.Next() {
		job, err := decodeJobKey(it.Key())
		if err != nil {
			return nil, err
		}
		body, err := checkValue("journal "+job.String(), it.Value())
		if err != nil {
			return nil, err
		}
		if len(body) != 4 {
			return nil, fmt.Errorf("chainlog: journal %s: %d bytes, want 4: %w", job, len(body), ErrCorrupt)
		}
		out[job] = int(binary.BigEndian.Uint32(body))
	}
	return out, it.Error()
}

func eventKey(seq uint64) []byte {
	k := make([]byte, eventKeyLen)
	k[0] = prefixEvent
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func journalKey(j pipeline.JobID) []byte {
	k := make([]byte, 0, jobKeyLen)
	k = append(k, prefixJournal, byte(j.Stage))
	k = binary.BigEndian.AppendUint64(k, j.Height)
	k = append(k, j.Block[:]...)
	return binary.BigEndian.AppendUint64(k, uint64(j.Index))
}

func decodeJobKey(k []byte) (pipeline.JobID, error) {
	var j pipeline.JobID
	if len(k) != jobKeyLen || k[0] != prefixJournal || k[1] > byte(pipeline.StageAggregate) {
		return j, fmt.Errorf("chainlog: journal key %x: %w", k, ErrCorrupt)
	}
	j.Stage = pipeline.Stage(k[1])
	j.Height = binary.BigEndian.Uint64(k[2:])
	copy(j.Block[:], k[10:42])
	idx := binary.BigEndian.Uint64(k[42:])
	if idx > 1<<31 {
		return j, fmt.Errorf("chainlog: journal key %x: index %d: %w", k, idx, ErrCorrupt)
	}
	j.Index = int(idx)
	return j, nil
}

// sealValue prefixes body with the version, a CRC32C over kind ‖ body, and
// kind.
func sealValue(kind byte, body []byte) []byte {
	v := make([]byte, valueHeadLen, valueHeadLen+len(body))
	v[0] = valueVersion
	v[5] = kind
	v = append(v, body...)
	binary.BigEndian.PutUint32(v[1:5], crc32.Checksum(v[5:], castagnoli))
	return v
}

// checkValue verifies a sealed value of kind 0 and returns its body.
func checkValue(what string, v []byte) ([]byte, error) {
	kind, body, err := openValue(v)
	if err != nil {
		return nil, fmt.Errorf("chainlog: %s: %w", what, err)
	}
	if kind != 0 {
		return nil, fmt.Errorf("chainlog: %s: kind %d: %w", what, kind, ErrCorrupt)
	}
	return body, nil
}

func openValue(v []byte) (kind byte, body []byte, err error) {
	if len(v) < valueHeadLen {
		return 0, nil, fmt.Errorf("%d bytes, shorter than the %d-byte header: %w", len(v), valueHeadLen, ErrCorrupt)
	}
	if v[0] != valueVersion {
		return 0, nil, fmt.Errorf("version %d, want %d: %w", v[0], valueVersion, ErrCorrupt)
	}
	if got, want := crc32.Checksum(v[5:], castagnoli), binary.BigEndian.Uint32(v[1:5]); got != want {
		return 0, nil, fmt.Errorf("checksum %08x, stored %08x: %w", got, want, ErrCorrupt)
	}
	return v[5], v[valueHeadLen:], nil
}

func encodeEvent(ev pipeline.Event) []byte {
	if ev.Block == nil {
		return sealValue(kindFinalize, binary.BigEndian.AppendUint64(nil, ev.Finalize))
	}
	b := ev.Block
	body := make([]byte, 0, blockBodyLen+len(ev.Payload))
	body = binary.BigEndian.AppendUint64(body, b.Height)
	body = append(body, b.Hash[:]...)
	body = append(body, b.Parent[:]...)
	body = binary.BigEndian.AppendUint32(body, uint32(b.Txs))
	body = binary.BigEndian.AppendUint32(body, uint32(len(ev.Payload)))
	body = append(body, ev.Payload...)
	return sealValue(kindBlock, body)
}

// decodeEvent parses an event value; the payload aliases v.
func decodeEvent(v []byte) (pipeline.Event, error) {
	var ev pipeline.Event
	kind, body, err := openValue(v)
	if err != nil {
		return ev, err
	}
	switch kind {
	case kindFinalize:
		if len(body) != 8 {
			return ev, fmt.Errorf("finality: %d bytes, want 8: %w", len(body), ErrCorrupt)
		}
		ev.Finalize = binary.BigEndian.Uint64(body)
		return ev, nil
	case kindBlock:
		if len(body) < blockBodyLen {
			return ev, fmt.Errorf("block: %d bytes, shorter than %d: %w", len(body), blockBodyLen, ErrCorrupt)
		}
		b := &pipeline.Block{Height: binary.BigEndian.Uint64(body)}
		copy(b.Hash[:], body[8:40])
		copy(b.Parent[:], body[40:72])
		txs := binary.BigEndian.Uint32(body[72:76])
		n := binary.BigEndian.Uint32(body[76:80])
		if txs > 1<<20 {
			return ev, fmt.Errorf("block %s: %d transactions: %w", b.Hash, txs, ErrCorrupt)
		}
		if uint64(n) != uint64(len(body)-blockBodyLen) || n > MaxPayloadBytes {
			return ev, fmt.Errorf("block %s: payload length %d, %d bytes follow: %w", b.Hash, n, len(body)-blockBodyLen, ErrCorrupt)
		}
		b.Txs = int(txs)
		ev.Block, ev.Payload = b, body[blockBodyLen:]
		return ev, nil
	}
	return ev, fmt.Errorf("event kind %d: %w", kind, ErrCorrupt)
}

// quietLogger drops pebble's routine messages and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }
func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }
