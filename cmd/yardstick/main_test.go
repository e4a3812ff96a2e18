package main

import (
	"os"
	"testing"

	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainHelperEnv) == "1" {
		os.Exit(runMainHelper())
	}
	os.Exit(storetest.Main(m))
}
