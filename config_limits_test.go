package webhook_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookrail/webhook"
)

// bigJSON returns a JSON settings document of at least size bytes: a
// redact_fields mapping with many small entries, a shape that costs much
// per byte to parse.
func bigJSON(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"endpoints": [{"name": "a", "url": "https://a.example.com/", "secret": "s", "redact_fields": {"*": {`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"f` + itoa(i) + `":[1,{"a":null}]`)
	}
	b.WriteString("}}}]}")
	return b.Bytes()
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var out []byte
	for ; i > 0; i /= 10 {
		out = append([]byte{digits[i%10]}, out...)
	}
	return string(out)
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLoadConfigTooLargeAllocation: a 10 MiB file is refused before it is
// parsed, by Load (which does not read it whole) and by Parse, without
// allocating in proportion to it. Not parallel: it reads MemStats.
func TestLoadConfigTooLargeAllocation(t *testing.T) {
	data := bigJSON(10 << 20)
	path := filepath.Join(t.TempDir(), "big.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))

	tests := []struct {
		name string
		load func() error
	}{
		{"LoadConfig", func() error { _, err := webhook.LoadConfig(path); return err }},
		{"Parse", func() error { _, err := (&webhook.ConfigLoader{}).Parse(data, "json"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = tt.load() })
			t.Logf("allocated %d bytes", n)
			require.Error(t, err)
			assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
			assert.Contains(t, err.Error(), "bytes, more than the limit of 1048576")
			assert.Less(t, n, uint64(4<<20), "allocated %d bytes to refuse a 10 MiB file", n)
		})
	}
}

// TestLoadConfigDeepNesting: 100,000 nested collections are an error,
// found without exhausting the stack or the heap.
func TestLoadConfigDeepNesting(t *testing.T) {
	t.Parallel()
	const depth = 100_000
	tests := []struct{ name, format, src, want string }{
		{"json arrays", "json", strings.Repeat("[", depth), "nesting deeper than 1000 levels"},
		{"json objects", "json", strings.Repeat(`{"a":`, depth), "nesting deeper than 1000 levels"},
		{"yaml flow sequences", "yaml", strings.Repeat("[", depth), "nesting deeper than 1000 levels"},
		{"yaml flow mappings", "yaml", "a: " + strings.Repeat("{a: ", depth), "nesting deeper than 1000 levels"},
		{"yaml block sequences", "yaml", strings.Repeat("- ", depth) + "x", "nesting deeper than 1000 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := (&webhook.ConfigLoader{}).Parse([]byte(tt.src), tt.format)
			require.Error(t, err)
			assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestLoadConfigMaxBytes: ConfigLoader.MaxBytes bounds files and data;
// zero means DefaultMaxConfigBytes, negative no limit.
func TestLoadConfigMaxBytes(t *testing.T) {
	t.Parallel()
	// padded returns a valid YAML file of exactly size bytes.
	padded := func(size int) []byte {
		head := "enabled: true\n# "
		return []byte(head + strings.Repeat("x", size-len(head)-1) + "\n")
	}
	tests := []struct {
		name     string
		maxBytes int64
		size     int
		want     string // "": no error
	}{
		{"default, at the limit", 0, webhook.DefaultMaxConfigBytes, ""},
		{"default, one byte over", 0, webhook.DefaultMaxConfigBytes + 1, "is 1048577 bytes, more than the limit of 1048576 (ConfigLoader.MaxBytes)"},
		{"custom, at the limit", 100, 100, ""},
		{"custom, over", 100, 101, "is 101 bytes, more than the limit of 100 (ConfigLoader.MaxBytes)"},
		{"no limit", -1, 2 << 20, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := padded(tt.size)
			require.Len(t, data, tt.size)
			path := filepath.Join(t.TempDir(), "c.yaml")
			require.NoError(t, os.WriteFile(path, data, 0o600))
			l := &webhook.ConfigLoader{MaxBytes: tt.maxBytes}
			_, loadErr := l.Load(path)
			_, parseErr := l.Parse(data, "yaml")
			if tt.want == "" {
				assert.NoError(t, loadErr)
				assert.NoError(t, parseErr)
				return
			}
			require.Error(t, loadErr)
			assert.ErrorIs(t, loadErr, webhook.ErrInvalidConfig)
			assert.Equal(t, "webhook: "+path+": the file "+tt.want, loadErr.Error())
			require.Error(t, parseErr)
			assert.ErrorIs(t, parseErr, webhook.ErrInvalidConfig)
			assert.Equal(t, "webhook: the data "+tt.want, parseErr.Error())
		})
	}
}

// TestLoadConfigMaxBytesUnknownSize: a file whose size Stat does not
// give (a device, a pipe) is read up to one byte past the limit.
func TestLoadConfigMaxBytesUnknownSize(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	path := filepath.Join(t.TempDir(), "zero.json")
	require.NoError(t, os.Symlink("/dev/zero", path))
	_, err := (&webhook.ConfigLoader{MaxBytes: 1000}).Load(path)
	require.Error(t, err)
	assert.ErrorIs(t, err, webhook.ErrInvalidConfig)
	assert.Equal(t, "webhook: "+path+": the file is more than the limit of 1000 bytes (ConfigLoader.MaxBytes)", err.Error())
}
