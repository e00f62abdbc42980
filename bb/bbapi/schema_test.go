package bbapi_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/proofd/proofd/bb/bbapi"
)

// TestSchemaFieldNames checks the Go types against the schema bb 5.0.0
// prints (`bb msgpack schema`, saved as testdata/schema.json): each type
// has exactly the schema's fields, by name, with a Go type that encodes as
// the schema's.
func TestSchemaFieldNames(t *testing.T) {
	b, err := os.ReadFile("testdata/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	defs := map[string]map[string]any{} // __typename -> its fields
	var collect func(any)
	collect = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["__typename"].(string); ok {
				defs[name] = v
			}
			for _, x := range v {
				collect(x)
			}
		case []any:
			for _, x := range v {
				collect(x)
			}
		}
	}
	collect(schema)

	for name, typ := range map[string]reflect.Type{
		"ProofSystemSettings":                  reflect.TypeFor[bbapi.Settings](),
		"CircuitInput":                         reflect.TypeFor[bbapi.CircuitInput](),
		"CircuitInputNoVK":                     reflect.TypeFor[bbapi.CircuitInputNoVK](),
		"CircuitProve":                         reflect.TypeFor[bbapi.CircuitProve](),
		"CircuitComputeVk":                     reflect.TypeFor[bbapi.CircuitComputeVk](),
		"CircuitStats":                         reflect.TypeFor[bbapi.CircuitStats](),
		"CircuitVerify":                        reflect.TypeFor[bbapi.CircuitVerify](),
		"CircuitWriteSolidityVerifier":         reflect.TypeFor[bbapi.CircuitWriteSolidityVerifier](),
		"Shutdown":                             reflect.TypeFor[bbapi.Shutdown](),
		"ErrorResponse":                        reflect.TypeFor[bbapi.ErrorResponse](),
		"CircuitProveResponse":                 reflect.TypeFor[bbapi.CircuitProveResponse](),
		"CircuitComputeVkResponse":             reflect.TypeFor[bbapi.CircuitComputeVkResponse](),
		"CircuitInfoResponse":                  reflect.TypeFor[bbapi.CircuitInfoResponse](),
		"CircuitVerifyResponse":                reflect.TypeFor[bbapi.CircuitVerifyResponse](),
		"CircuitWriteSolidityVerifierResponse": reflect.TypeFor[bbapi.CircuitWriteSolidityVerifierResponse](),
		"ShutdownResponse":                     reflect.TypeFor[bbapi.ShutdownResponse](),
	} {
		def, ok := defs[name]
		if !ok {
			t.Errorf("%s: not in the schema", name)
			continue
		}
		var want []string
		for k := range def {
			if k != "__typename" {
				want = append(want, k)
			}
		}
		var got []string
		for f := range typ.Fields() {
			tag := f.Tag.Get("msgpack")
			got = append(got, tag)
			st, ok := def[tag]
			if !ok {
				continue
			}
			if w := goType(st); w != "" && w != f.Type.String() {
				t.Errorf("%s.%s: Go type %s, schema %v wants %s", name, tag, f.Type, st, w)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: fields %v, schema has %v", name, got, want)
		}
	}
}

// goType is the Go type bbapi uses for a schema type; "" for a struct,
// whose fields are checked under its own name.
func goType(st any) string {
	switch st := st.(type) {
	case string:
		switch st {
		case "bool":
			return "bool"
		case "string":
			return "string"
		case "unsigned int":
			return "uint32"
		}
		return "" // a struct defined elsewhere in the schema
	case map[string]any:
		return ""
	case []any: // ["vector", [elem]]
		if len(st) == 2 && st[0] == "vector" {
			elem := st[1].([]any)[0]
			if elem == "unsigned char" {
				return "[]uint8"
			}
			if e, ok := elem.(string); ok && e == "unsigned int" {
				return "[]uint32"
			}
			if a, ok := elem.([]any); ok && len(a) == 2 && a[0] == "alias" {
				if p, ok := a[1].([]any); ok && len(p) == 2 && p[1] == "bin32" {
					return "[]bbapi.Field"
				}
			}
		}
	}
	return "unknown schema type"
}
