package konf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// Keys are a command's configuration keys: each a YAML key, a flag (--KEY)
// and an environment variable (PROOFD_KEY, dashes as underscores).
type Keys struct {
	Known map[string]bool // every key
	Lists map[string]bool // keys whose environment value is comma-separated
	// FlagOnly are flags that are not configuration (--config, --check): a
	// file that names one is refused.
	FlagOnly map[string]bool
}

// Load fills out (a struct with koanf tags, holding the defaults) from the
// file at path (if not empty), environ (os.Environ if nil) and the flags
// set on fs (if not nil).
func Load(out any, keys Keys, path string, fs *pflag.FlagSet, environ func() []string) error {
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
		var errs []error
		for _, key := range k.Keys() {
			if !keys.Known[key] || keys.FlagOnly[key] {
				errs = append(errs, fmt.Errorf("config %s: unknown key %q", path, key))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	if environ == nil {
		environ = os.Environ
	}
	err := k.Load(env.Provider(".", env.Opt{
		Prefix:      "PROOFD_",
		EnvironFunc: environ,
		TransformFunc: func(key, v string) (string, any) {
			key = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(key, "PROOFD_")), "_", "-")
			if !keys.Known[key] || keys.FlagOnly[key] {
				return "", nil
			}
			if keys.Lists[key] {
				return key, strings.Split(v, ",")
			}
			return key, v
		},
	}), nil)
	if err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	if fs != nil {
		if err := k.Load(posflag.Provider(fs, ".", k), nil); err != nil {
			return fmt.Errorf("flags: %w", err)
		}
	}
	if err := k.UnmarshalWithConf("", out, koanf.UnmarshalConf{Tag: "koanf", FlatPaths: true}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
