package webhookotel

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// TestLinksBound: the span contexts kept stay within the bound, the
// oldest forgotten first, and drop forgets one at once.
func TestLinksBound(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	l := newLinks(10)
	for i := range 100 {
		l.put("dlv_"+strconv.Itoa(i), sc)
		require.LessOrEqual(t, l.len(), 10)
	}
	_, ok := l.get("dlv_0")
	assert.False(t, ok, "the oldest are forgotten")
	for i := 95; i < 100; i++ {
		got, ok := l.get("dlv_" + strconv.Itoa(i))
		assert.True(t, ok, "dlv_%d kept", i)
		assert.Equal(t, sc, got)
	}
	l.drop("dlv_99")
	l.drop("dlv_90") // in the old generation
	_, ok = l.get("dlv_99")
	assert.False(t, ok)
	_, ok = l.get("dlv_90")
	assert.False(t, ok)

	one := newLinks(1)
	one.put("a", sc)
	one.put("b", sc)
	one.put("c", sc)
	assert.LessOrEqual(t, one.len(), 2)
	_, ok = one.get("c")
	assert.True(t, ok)
}
