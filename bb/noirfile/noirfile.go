package noirfile

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	// MaxArtifact bounds a circuit.json.
	MaxArtifact = 256 << 20
	// MaxGunzipped bounds an ACIR program or a witness once gunzipped.
	MaxGunzipped = 256 << 20
)

// Circuit reads a Noir program artifact and returns its ACIR bytecode,
// gunzipped: what bb's CircuitInput.bytecode (and the bb engine) takes.
func Circuit(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("circuit %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxArtifact+1))
	if err != nil {
		return nil, fmt.Errorf("circuit %s: %w", path, err)
	}
	if len(b) > MaxArtifact {
		return nil, fmt.Errorf("circuit %s: over %d bytes", path, MaxArtifact)
	}
	return CircuitBytes(path, b)
}

// CircuitBytes is Circuit on an artifact's bytes; name names it in errors.
func CircuitBytes(name string, artifact []byte) ([]byte, error) {
	var a struct {
		Bytecode *string `json:"bytecode"`
	}
	if err := json.Unmarshal(artifact, &a); err != nil {
		return nil, fmt.Errorf("circuit %s: not a Noir artifact: %w", name, err)
	}
	if a.Bytecode == nil {
		return nil, fmt.Errorf("circuit %s: no \"bytecode\" field (is it a Noir program artifact?)", name)
	}
	gz, err := base64.StdEncoding.DecodeString(*a.Bytecode)
	if err != nil {
		return nil, fmt.Errorf("circuit %s: bytecode: not base64: %w", name, err)
	}
	acir, err := Gunzip(gz)
	if err != nil {
		return nil, fmt.Errorf("circuit %s: bytecode: %w", name, err)
	}
	return acir, nil
}

// Witness reads a gzipped Noir witness and returns it gunzipped.
func Witness(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", path, err)
	}
	defer f.Close()
	b, err := gunzipFrom(f)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", path, err)
	}
	return b, nil
}

// Gunzip gunzips b, refusing more than MaxGunzipped bytes of output.
func Gunzip(b []byte) ([]byte, error) { return gunzipFrom(bytes.NewReader(b)) }

func gunzipFrom(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, MaxGunzipped+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if len(out) > MaxGunzipped {
		return nil, errors.New("gunzips to over 256 MiB: refused")
	}
	return out, nil
}

// Artifact wraps ACIR bytecode as the smallest program artifact bb's CLI
// takes (`bb prove -b`): {"bytecode": base64(gzip(acir))}. Circuit reads it
// back.
func Artifact(acir []byte) ([]byte, error) {
	gz, err := Gzip(acir)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Bytecode string `json:"bytecode"`
	}{base64.StdEncoding.EncodeToString(gz)})
}

// Gzip compresses b, as a witness file (`bb prove -w`) holds it.
func Gzip(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
