package natsq

import (
	"testing"

	"github.com/proofd/proofd/engine/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }
