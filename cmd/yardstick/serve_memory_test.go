package main

import "testing"

func TestServeMemoryLimitDefaults(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, defaultMemoryLimitMB}, {-1, 0}, {512, 512}} {
		c, err := serveConfig{MemoryLimitMB: tt.in}.withDefaults()
		if err != nil {
			t.Fatalf("withDefaults(memory_limit_mb %d) = %v", tt.in, err)
		}
		if c.MemoryLimitMB != tt.want {
			t.Errorf("withDefaults(memory_limit_mb %d).MemoryLimitMB = %d, want %d", tt.in, c.MemoryLimitMB, tt.want)
		}
	}
}
