package webhook

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

//lint:file-ignore SA5008 the fixtures' odd tags ("-,", "it's") are the encoding/json rules under test
//lint:file-ignore U1000 the fixtures' unexported fields and types are there to be ignored by the checker

// pcOrder is a model with one field of each kind checkFieldPath judges.
type pcOrder struct {
	ID           int               `json:"id"`
	InternalNote string            `json:"internal_note"`
	Secret       string            `json:"-"`
	Dash         string            `json:"-,"`
	Opt          string            `json:"opt,omitempty"`
	Total        float64           `json:",omitempty"`
	Weird        string            `json:"it's"` // invalid tag name: the Go name
	Email        string            // untagged: "Email"
	Customer     pcCustomer        `json:"customer"`
	Billing      *pcCustomer       `json:"billing"`
	Items        []pcItem          `json:"items"`
	Grid         [][]*pcItem       `json:"grid"`
	CreatedAt    time.Time         `json:"created_at"`
	Meta         map[string]any    `json:"meta"`
	Raw          json.RawMessage   `json:"raw"`
	Any          any               `json:"any"`
	Blob         []byte            `json:"blob"`
	UserEmail    string            `json:"user.email"`
	List         pcList            `json:"list"`
	Code         pcCode            `json:"code"`
	Appended     pcAppended        `json:"appended"`
	Counts       [3]int            `json:"counts"`
	Labels       map[string]string `json:"labels,omitempty"`
	note         string
}

// pcCustomer is a nested model.
type pcCustomer struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// pcItem is an element of an array.
type pcItem struct {
	Price float64 `json:"price"`
}

// pcList writes its own JSON as a named slice.
type pcList []pcItem

// MarshalJSON makes pcList opaque.
func (pcList) MarshalJSON() ([]byte, error) { return []byte("[]"), nil }

// pcCode writes itself as text, from its pointer.
type pcCode struct {
	V string `json:"v"`
}

// MarshalText makes pcCode opaque (through *pcCode).
func (*pcCode) MarshalText() ([]byte, error) { return []byte("x"), nil }

// pcAppended writes itself as text by appending.
type pcAppended struct {
	V string `json:"v"`
}

// AppendText makes pcAppended opaque.
func (pcAppended) AppendText(b []byte) ([]byte, error) { return append(b, 'x'), nil }

// pcBase is embedded, unexported, with exported fields to promote.
type pcBase struct {
	Created string `json:"created"`
	hidden  string
}

// pcPtrEmb is embedded through a pointer.
type pcPtrEmb struct {
	Ptr string `json:"ptr"`
}

// pcTaggedEmb is embedded with a tag name: a normal field.
type pcTaggedEmb struct {
	Inner string `json:"inner"`
}

// pcInner sits two levels deep: its name loses to pcEmbed's own.
type pcInner struct {
	Name string `json:"name"`
	Deep string `json:"deep"`
}

// pcMid embeds pcInner.
type pcMid struct {
	pcInner
	Mid string `json:"mid"`
}

// pcDupA and pcDupB clash on Dup (both untagged), and on Tie, where
// pcDupA's tag wins over pcDupB's Go name.
type pcDupA struct {
	Dup string
	X   pcTieSub `json:"Tie"`
}

// pcDupB is pcDupA's rival at the same depth.
type pcDupB struct {
	Dup string
	Tie int
}

// PcBothA and PcBothB clash on the tagged "both" when embedded side by
// side (built with reflect.StructOf, as go vet refuses the declaration).
type PcBothA struct {
	Both string `json:"both"`
}

// PcBothB is PcBothA's rival.
type PcBothB struct {
	Both string `json:"both"`
	Only string `json:"only"`
}

// pcTieSub tells which Tie won.
type pcTieSub struct {
	Sub string `json:"sub"`
}

// pcName tells which name won.
type pcName struct {
	First string `json:"first"`
}

// PcLevel is an exported non-struct type, embedded: a key "PcLevel".
type PcLevel int

// pcCount is an unexported non-struct type, embedded: ignored.
type pcCount int

// pcEmbed exercises embedding.
type pcEmbed struct {
	pcBase
	*pcPtrEmb
	pcTaggedEmb `json:"tagged"`
	pcMid
	pcDupA
	pcDupB
	PcLevel
	pcCount
	Name pcName `json:"name"`
}

// pcStamped embeds time.Time and so has its MarshalJSON.
type pcStamped struct {
	time.Time
	Note string `json:"note"`
}

// pcNode is recursive.
type pcNode struct {
	Children []*pcNode `json:"children"`
	Name     string    `json:"name"`
}

// pcLoop embeds a pointer to itself.
type pcLoop struct {
	*pcLoop
	X string `json:"x"`
}

// PcShared is embedded by both PcTwinA and PcTwinB: embedding both twins
// (with reflect.StructOf, as go vet refuses the declaration), its fields
// arrive twice at one depth and cancel out.
type PcShared struct {
	S string `json:"s"`
}

// PcTwinA embeds PcShared.
type PcTwinA struct {
	PcShared
	Alpha string `json:"alpha"`
}

// PcTwinB embeds PcShared.
type PcTwinB struct{ PcShared }

// pcSelfPtr and pcSelfSlice unwrap forever.
type (
	pcSelfPtr   *pcSelfPtr
	pcSelfSlice []pcSelfSlice
)

// pcFan has two keys equal but for case, each leading back to it: a walk
// of a missing path through it branches at every element.
type pcFan struct {
	Lower *pcFan `json:"a"`
	Upper *pcFan `json:"A"`
}

// pcDotted mixes dotted keys with nesting.
type pcDotted struct {
	AB   pcDottedC         `json:"a.b"`
	A    pcDottedA         `json:"a"`
	Data map[string]any    `json:"data"`
	DQ   string            `json:"data.Q"`
	M    map[string]string `json:"m"`
	MS   string            `json:"m.s"`
	Up   pcCustomer        `json:"Meta"`
	Down map[string]any    `json:"meta"`
}

// pcDottedC is under the dotted key "a.b".
type pcDottedC struct {
	C string `json:"c"`
}

// pcDottedA is under "a".
type pcDottedA struct {
	B pcDottedD `json:"b"`
}

// pcDottedD is under "a" then "b".
type pcDottedD struct {
	D string `json:"d"`
}

// pcNear has two keys equally near "nane".
type pcNear struct {
	Name string `json:"name"`
	Nate string `json:"nate"`
}

// pcL0 to pcL17 nest embedded structs 17 levels deep.
type (
	pcL0  struct{ pcL1 }
	pcL1  struct{ pcL2 }
	pcL2  struct{ pcL3 }
	pcL3  struct{ pcL4 }
	pcL4  struct{ pcL5 }
	pcL5  struct{ pcL6 }
	pcL6  struct{ pcL7 }
	pcL7  struct{ pcL8 }
	pcL8  struct{ pcL9 }
	pcL9  struct{ pcL10 }
	pcL10 struct{ pcL11 }
	pcL11 struct{ pcL12 }
	pcL12 struct{ pcL13 }
	pcL13 struct{ pcL14 }
	pcL14 struct{ pcL15 }
	pcL15 struct{ pcL16 }
	pcL16 struct{ pcL17 }
	pcL17 struct {
		Leaf string `json:"leaf"`
	}
)

// pcStructOf returns struct{ A; B }, which go vet refuses to see declared
// when A and B carry the same json tag.
func pcStructOf[A, B any]() reflect.Type {
	a, b := reflect.TypeFor[A](), reflect.TypeFor[B]()
	return reflect.StructOf([]reflect.StructField{
		{Name: a.Name(), Type: a, Anonymous: true},
		{Name: b.Name(), Type: b, Anonymous: true},
	})
}

// TestCheckFieldPath checks paths against the test models.
func TestCheckFieldPath(t *testing.T) {
	order := reflect.TypeFor[pcOrder]()
	embed := reflect.TypeFor[pcEmbed]()
	dotted := reflect.TypeFor[pcDotted]()
	node := reflect.TypeFor[pcNode]()
	both := pcStructOf[PcBothA, PcBothB]()
	twins := pcStructOf[PcTwinA, PcTwinB]()
	wide := make([]reflect.StructField, pathMaxKeys+1)
	for i := range wide {
		wide[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: reflect.TypeFor[string](), Tag: reflect.StructTag(fmt.Sprintf(`json:"f%d"`, i))}
	}

	tests := []struct {
		name string
		typ  reflect.Type
		path string
		want pathCheck
		hint string
	}{
		// Tags.
		{"tag", order, "id", pathMatches, ""},
		{"tag with underscore", order, "internal_note", pathMatches, ""},
		{"typo", order, "internal_not", pathMissing, "internal_note"},
		{"dash skipped", order, "Secret", pathMissing, ""},
		{"dash comma is a key", order, "-", pathMatches, ""},
		{"omitempty still a key", order, "opt", pathMatches, ""},
		{"tag without a name", order, "Total", pathMatches, ""},
		{"invalid tag name", order, "Weird", pathMatches, ""},
		{"invalid tag name not a key", order, "it's", pathMissing, ""}, // two edits from "items": too far for a short name
		{"untagged", order, "Email", pathMatches, ""},
		{"untagged, other case", order, "email", pathCaseOnly, "Email"},
		{"unexported", order, "note", pathMissing, ""}, // not "code": two edits
		{"unexported, nothing near", order, "notes", pathMissing, ""},
		// Nesting.
		{"nested", order, "customer.email", pathMatches, ""},
		{"nested pointer", order, "billing.email", pathMatches, ""},
		{"nested, other case", order, "Customer.Email", pathCaseOnly, "customer.email"},
		{"nested typo", order, "customer.emial", pathMissing, "customer.email"},
		{"nested, other case and typo", order, "Customer.emial", pathMissing, "customer.email"},
		{"slice of structs", order, "items.price", pathMatches, ""},
		{"slice of slices of pointers", order, "grid.price", pathMatches, ""},
		{"slice typo", order, "items.prize", pathMissing, "items.price"},
		// Scalars.
		{"scalar with more", order, "id.x", pathMissing, "id"},
		{"scalar in nested with more", order, "customer.id.x", pathMissing, "customer.id"},
		{"bytes are a scalar", order, "blob.x", pathMissing, "blob"},
		{"array of scalars", order, "counts.x", pathMissing, "counts"},
		// Opaque types.
		{"time.Time is a key", order, "created_at", pathMatches, ""},
		{"inside time.Time", order, "created_at.x", pathUnknown, ""},
		{"inside a map", order, "meta.anything", pathUnknown, ""},
		{"inside a map of strings", order, "labels.a.b", pathUnknown, ""},
		{"inside a map, other case", order, "Meta.anything", pathCaseOnly, "meta.anything"},
		{"inside RawMessage", order, "raw.x", pathUnknown, ""},
		{"inside an interface", order, "any.x", pathUnknown, ""},
		{"named slice with MarshalJSON", order, "list.price", pathUnknown, ""},
		{"pointer MarshalText", order, "code.v", pathUnknown, ""},
		{"AppendText", order, "appended.v", pathUnknown, ""},
		// Dotted keys.
		{"dotted key", order, "user.email", pathMatches, ""},
		{"path ends inside a dotted key", order, "user", pathMatches, ""},
		{"dotted key, other case", order, "User.Email", pathCaseOnly, "user.email"},
		{"dotted key typo", order, "user.emial", pathMissing, "user.email"},
		{"dotted scalar with more", order, "user.email.x", pathMissing, "user.email"},
		{"dotted key then nested", dotted, "a.b.c", pathMatches, ""},
		{"split keys", dotted, "a.b.d", pathMatches, ""},
		{"neither: the first near branch hints", dotted, "a.b.e", pathMissing, "a.b.c"},
		{"unknown beats case only", dotted, "data.q", pathUnknown, ""},
		{"exact dotted key beside a map", dotted, "data.Q", pathMatches, ""},
		{"unknown beats missing", dotted, "m.s.x", pathUnknown, ""},
		{"case only beats missing", dotted, "META.k", pathCaseOnly, "meta.k"},
		// Embedding.
		{"promoted from unexported type", embed, "created", pathMatches, ""},
		{"unexported of embedded", embed, "hidden", pathMissing, ""},
		{"embedded pointer", embed, "ptr", pathMatches, ""},
		{"embedded with tag name", embed, "tagged.inner", pathMatches, ""},
		{"embedded with tag name not flattened", embed, "inner", pathMissing, ""},
		{"promoted two deep", embed, "deep", pathMatches, ""},
		{"promoted one deep", embed, "mid", pathMatches, ""},
		{"shallower wins", embed, "name.first", pathMatches, ""},
		{"ambiguous untagged dropped", embed, "Dup", pathMissing, ""}, // not "deep": two edits
		{"ambiguous tagged dropped", both, "both", pathMissing, ""},
		{"beside the ambiguous", both, "only", pathMatches, ""},
		{"tagged wins at same depth", embed, "Tie.sub", pathMatches, ""},
		{"same struct twice at one depth", twins, "s", pathMissing, ""},
		{"beside the twice embedded", twins, "alpha", pathMatches, ""},
		{"exported non-struct embedded", embed, "PcLevel", pathMatches, ""},
		{"unexported non-struct embedded", embed, "pcCount", pathMissing, ""},
		{"embedded time.Time", reflect.TypeFor[pcStamped](), "note", pathUnknown, ""},
		{"embedding itself", reflect.TypeFor[pcLoop](), "x", pathMatches, ""},
		{"embedding 16 deep", reflect.TypeFor[pcL1](), "leaf", pathMatches, ""},
		{"embedding 17 deep", reflect.TypeFor[pcL0](), "leaf", pathUnknown, ""},
		{"too many keys", reflect.StructOf(wide), "f0", pathUnknown, ""},
		{"keys at the limit", reflect.StructOf(wide[:pathMaxKeys]), "f0", pathMatches, ""},
		// Recursion.
		{"recursive", node, "children.children.name", pathMatches, ""},
		{"recursive, deep", node, strings.Repeat("children.", 200) + "name", pathMatches, ""},
		{"recursive, deep miss", node, strings.Repeat("children.", 200) + "x", pathMissing, ""},
		{"branching past the budget", reflect.TypeFor[pcFan](), strings.Repeat("a.", 40) + "x", pathUnknown, ""},
		{"branching, found", reflect.TypeFor[pcFan](), strings.Repeat("a.", 40) + "A", pathMatches, ""},
		{"branching, folded", reflect.TypeFor[pcFan](), "a.a.a.a.a.a.a.a.a.a.a.a.x", pathMissing, ""},
		// Hints.
		{"two keys equally near", reflect.TypeFor[pcNear](), "nane", pathMissing, ""},
		// Roots.
		{"RawMessage root", reflect.TypeFor[json.RawMessage](), "id", pathUnknown, ""},
		{"map root", reflect.TypeFor[map[string]any](), "id", pathUnknown, ""},
		{"interface root", reflect.TypeFor[any](), "id", pathUnknown, ""},
		{"pointer root", reflect.TypeFor[*pcOrder](), "customer.email", pathMatches, ""},
		{"slice root", reflect.TypeFor[[]pcItem](), "price", pathMatches, ""},
		{"scalar root", reflect.TypeFor[string](), "x", pathMissing, ""},
		{"nil type", nil, "x", pathUnknown, ""},
		{"pointer to itself", reflect.TypeFor[pcSelfPtr](), "x", pathUnknown, ""},
		{"slice of itself", reflect.TypeFor[pcSelfSlice](), "x", pathUnknown, ""},
		// Bad paths.
		{"empty path", order, "", pathMissing, ""},
		{"empty element", order, "customer..email", pathMissing, ""},
		{"leading dot", order, ".id", pathMissing, ""},
		{"trailing dot", order, "id.", pathMissing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, hint := checkFieldPath(tt.typ, tt.path)
			assert.Equal(t, tt.want, got, "result for %q", tt.path)
			assert.Equal(t, tt.hint, hint, "hint for %q", tt.path)
		})
	}
}

// TestCheckFieldPathDeepTerminates walks a long path through a recursive
// type, which must end, and within the step budget.
func TestCheckFieldPathDeepTerminates(t *testing.T) {
	path := strings.Repeat("children.", pathMaxSteps+10) + "name"
	got, _ := checkFieldPath(reflect.TypeFor[pcNode](), path)
	require.Equal(t, pathUnknown, got, "a path past the step budget cannot be judged")
}

// TestCheckFieldPathMatchesEncoding checks the keys computed for the test
// models against those encoding/json writes.
func TestCheckFieldPathMatchesEncoding(t *testing.T) {
	for _, v := range []any{
		pcEmbed{pcPtrEmb: &pcPtrEmb{}},
		pcDotted{},
		pcNear{},
		pcCustomer{},
		pcOrder{Opt: "x", Total: 1, Labels: map[string]string{"a": "b"}}, // omitempty: written when set
		pcLoop{},
		pcL1{},
		reflect.New(pcStructOf[PcTwinA, PcTwinB]()).Elem().Interface(),
		reflect.New(pcStructOf[PcBothA, PcBothB]()).Elem().Interface(),
	} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var obj map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &obj))
		keys := pathStructKeys(reflect.TypeOf(v))
		require.False(t, keys.overflow)
		var got []string
		for _, k := range keys.keys {
			got = append(got, k.name)
		}
		var want []string
		for k := range obj {
			want = append(want, k)
		}
		assert.ElementsMatch(t, want, got, "keys of %T", v)
	}
}

// TestNearLabel checks which rule labels are taken for mistakes.
func TestNearLabel(t *testing.T) {
	tests := []struct {
		rule, seen string
		want       bool
	}{
		{"store.Ordr", "store.Order", true},
		{"store.order", "store.Order", true},
		{"rvmodels.Customer", "store.Customer", true},
		{"rvmodels.customer", "store.Customer", true},
		{"store.Order", "store.Order", false},
		{"a.B", "c.D", false},
		{"a.B", "a.b", true},
		{"billing.Invoice", "store.Order", false},
		{"store.Orders", "store.Order", true},
		{"shop.Order", "store.Order", true},
		{"store.", "shop.", false},
		{"ab.Cd", "ab.Ce", false}, // too short for edit distance
		{"store.Item", "store.Order", false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" vs "+tt.seen, func(t *testing.T) {
			assert.Equal(t, tt.want, nearLabel(tt.rule, tt.seen))
		})
	}
}

// TestFoldEditDistance checks the case-insensitive Levenshtein distance.
func TestFoldEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "", 1},
		{"", "abc", 3},
		{"abc", "ABC", 0},
		{"kitten", "sitting", 3},
		{"internal_not", "internal_note", 1},
		{"emial", "email", 1}, // a swap is one edit
		{"ca", "abc", 3},      // no edit of a swapped pair again
		{"cusotmer", "customer", 1},
		{"héllo", "hello", 1},
		{"ÉCOLE", "école", 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, foldEditDistance(tt.a, tt.b), "%q vs %q", tt.a, tt.b)
		assert.Equal(t, tt.want, foldEditDistance(tt.b, tt.a), "%q vs %q", tt.b, tt.a)
	}
}
