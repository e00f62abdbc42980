package keycache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/atomicfile"
)

// ErrCorrupt means a cached pair does not match what its manifest records.
var ErrCorrupt = errors.New("key cache entry is corrupt")

// MaxKeyBytes bounds a cached key (a proving key of a 2^24-constraint
// Groth16 circuit is a few GiB).
const MaxKeyBytes = 16 << 30

// ID names a setup: what the keys were made for.
type ID struct {
	CCS    artifact.Digest // the constraint system
	Scheme string          // "groth16" or "plonk"
	SRS    artifact.Digest // PLONK's SRS; zero for Groth16
}

// name is the directory an ID's keys live in: a digest over a
// length-prefixed encoding, so no two IDs share one.
func (id ID) name() string {
	h := sha256.New()
	h.Write([]byte("proofd/keycache/v1"))
	h.Write(id.CCS[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(id.Scheme)))
	h.Write(n[:])
	h.Write([]byte(id.Scheme))
	h.Write(id.SRS[:])
	return hex.EncodeToString(h.Sum(nil))
}

// Keys is a setup's proving and verifying key.
type Keys struct {
	PK, VK artifact.Artifact
}

// manifest is keys.json.
type manifest struct {
	CCS    string `json:"ccs"`
	Scheme string `json:"scheme"`
	SRS    string `json:"srs"`
	PK     string `json:"pk"`
	VK     string `json:"vk"`
}

func manifestOf(id ID, k Keys) manifest {
	return manifest{CCS: id.CCS.String(), Scheme: id.Scheme, SRS: id.SRS.String(), PK: k.PK.Digest.String(), VK: k.VK.Digest.String()}
}

// Cache is a key cache in one directory.
type Cache struct {
	dir string
	fs  atomicfile.FS
}

// Open makes (if need be) and opens the cache in dir.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key cache %s: %w", dir, err)
	}
	return &Cache{dir: dir, fs: atomicfile.OSFS{}}, nil
}

// Put stores k as the keys of id; the pair becomes visible at once or not
// at all.
func (c *Cache) Put(id ID, k Keys) error {
	if k.PK.Data == nil || k.VK.Data == nil {
		return fmt.Errorf("key cache put %s: both keys' bytes are required", id.CCS.Short())
	}
	dir := filepath.Join(c.dir, id.name())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("key cache put: %w", err)
	}
	man, err := json.MarshalIndent(manifestOf(id, k), "", "  ")
	if err != nil {
		return err
	}
	// Withdraw an older pair first: until the new manifest lands the entry
	// is a miss, never a new key beside an old manifest.
	if err := c.fs.Remove(filepath.Join(dir, "keys.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("key cache put: %w", err)
	}
	if err := c.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("key cache put: %w", err)
	}
	return atomicfile.WriteGroup(c.fs,
		atomicfile.Entry{Path: filepath.Join(dir, "pk.bin"), Perm: 0o600, Fill: atomicfile.Data(k.PK.Data)},
		atomicfile.Entry{Path: filepath.Join(dir, "vk.bin"), Perm: 0o600, Fill: atomicfile.Data(k.VK.Data)},
		atomicfile.Entry{Path: filepath.Join(dir, "keys.json"), Perm: 0o600, Fill: atomicfile.Data(man)},
	)
}

// Get returns id's keys; ok is false when none are cached.
func (c *Cache) Get(id ID) (k Keys, ok bool, err error) {
	dir := filepath.Join(c.dir, id.name())
	manPath := filepath.Join(dir, "keys.json")
	raw, err := readBounded(manPath, 4<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return Keys{}, false, nil
	}
	if err != nil {
		return Keys{}, false, err
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Keys{}, false, fmt.Errorf("%s: %w: %v", manPath, ErrCorrupt, err)
	}
	if want := manifestOf(id, Keys{}); m.CCS != want.CCS || m.Scheme != want.Scheme || m.SRS != want.SRS {
		return Keys{}, false, fmt.Errorf("%s: %w: it records %s/%s/%s, not the setup asked for", manPath, ErrCorrupt, m.CCS, m.Scheme, m.SRS)
	}
	read := func(name, digest string) (artifact.Artifact, error) {
		path := filepath.Join(dir, name)
		b, err := readBounded(path, MaxKeyBytes)
		if err != nil {
			return artifact.Artifact{}, err
		}
		a := artifact.New(b)
		if a.Digest.String() != digest {
			return artifact.Artifact{}, fmt.Errorf("%s: %w: its bytes hash to %s, keys.json records %s", path, ErrCorrupt, a.Digest, digest)
		}
		return a, nil
	}
	if k.PK, err = read("pk.bin", m.PK); err != nil {
		return Keys{}, false, err
	}
	if k.VK, err = read("vk.bin", m.VK); err != nil {
		return Keys{}, false, err
	}
	return k, true, nil
}

// readBounded reads a whole file that may be at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, over the %d-byte limit", path, ErrCorrupt, fi.Size(), max)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return b, nil
}
