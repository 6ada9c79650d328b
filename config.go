package webhook

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookrail/webhook/internal/yamlsub"
)

// LoadConfig reads a JSON (.json) or YAML (.yaml, .yml) file holding Rail
// Django's settings (the RAIL_DJANGO_WEBHOOKS dict, its WebhookEndpoint
// arguments as endpoints) and returns the Config it describes, with
// ${ENV} references expanded from the process environment. A file that
// names callbacks or transforms needs a [ConfigLoader], which registers
// them.
//
// LoadConfig only parses and maps: values are checked by New, and a Config
// loaded from a valid file passes New. Every problem is reported, joined
// (errors.Join), each a *ConfigError wrapping ErrInvalidConfig that names
// the file, the line and the key path:
//
//	webhook: config.yaml:12: endpoints[1].timeout_seconds: want a number, got "abc"
//
// An unknown key is an error (with the closest known key when there is
// one), and so is a value of the wrong type. Secrets (secret,
// previous_secret, auth.client_secret, header values) never appear in an
// error, nor do values taken from the environment. A file that cannot be
// read gives the os error, wrapped. A file over 1 MiB is an error, found
// before it is read (ConfigLoader.MaxBytes changes the limit), and so is
// a string that is not valid UTF-8, in JSON too (where a decoder would
// silently put U+FFFD in its place, in a secret as anywhere).
//
// # Values
//
// In scalar values (not keys) ${VAR} is replaced by the environment
// variable VAR, and ${VAR:-default} by VAR or, when VAR is unset or empty,
// by default; $$ is a literal $, in a default too (${VAR:-a$$b} gives a$b),
// and a $ before anything else stays as it is. A default ends at the first
// } and may not hold a reference (${A:-${B}} is an error). A variable that
// is unset or empty, without a default, is an error naming the key and
// line: a file never yields an empty secret by accident.
// A value that is null (~, null, or nothing after the colon) is treated as
// absent. Numbers are decimal, and durations are given in seconds as
// numbers that may be fractional (2.5). Numbers and booleans may be quoted,
// so that JSON files can take them from the environment
// ("timeout_seconds": "${TIMEOUT:-30}"). Booleans are true or false. A key
// that wants a string takes any scalar as written (secret: 12345 is the
// string "12345"). A redaction value keeps its YAML or JSON type: a plain
// scalar is null, a boolean, an integer, a number or else a string (after
// expansion), a quoted one is a string. In redact_fields, a key whose
// value is a mapping is a model ("*", or "app.Model" with the model name
// capitalised) or, without a dot, a field replaced by that object; any
// other such key ("billing.card: {…}") is an error, because reading it the
// wrong way would send the field unredacted. In YAML flow collections ([...],
// {...}) a ${...} reference must be quoted, as braces end a plain value
// there.
//
// The YAML accepted is the subset configuration files use: block and flow
// mappings and sequences, plain and quoted scalars, comments. Anchors,
// aliases, tags, block scalars (| and >), several documents and tabs
// outside quoted strings and comments are rejected with their line and
// column, and so are duplicate keys, in YAML and in JSON.
//
// A file means what other YAML readers (PyYAML, go-yaml, YAML 1.2 readers)
// read in it, or it is refused: a plain scalar on which they disagree is
// an error naming its key, with what to write instead (quoting a value
// always keeps it as text). Refused are numbers with a leading zero (010,
// 07: octal or decimal), hexadecimal, octal and binary numbers (0x1F,
// 0o17, 0b101), digit separators (1_000), base-60 numbers (1:30), an
// exponent without a '.' and a signed exponent (1e3, 1.5e3; 1.5e+3 is
// fine), signed numbers without a digit before the '.' (-.5), integers
// beyond 64 bits, numbers beyond the range of a float, .inf and .nan, the
// YAML 1.1 booleans (yes, no, on, off, y, n, in any of their cases),
// true, false and null in other cases (tRUE), <<, =, and dates PyYAML
// cannot build (2026-02-30). A key must be text to every reader: a plain
// key that is a number, a boolean, null or a date (404: x) is an error;
// quote it. Null is ~, null, Null, NULL or nothing; booleans are true,
// false (also True, TRUE, …); a date or time (2026-03-01T00:00:00Z) is
// kept as written.
//
// # Top-level keys
//
//	key                  type                  Config field                  notes
//	enabled              bool                  Disabled = !enabled           default true
//	endpoints            list of endpoints     Endpoints                     see below
//	async_delivery       bool                  Sync = !async_delivery        default true
//	async_backend        string                -                             "" or "memory"; a durable queue is set in code (Config.Queue)
//	queue                string                -                             must be empty: a queue name needs Config.Queue, set in code
//	timeout_seconds      number                Timeout                       default 30
//	max_retries          integer               Retry.MaxRetries              default 3
//	retry_delay_seconds  number                Retry.RetryDelay              default 60
//	retry_config         retry object          Retry                         as an endpoint's; together with the two keys above
//	on_failure           "log" | "raise" |     "raise": Sync = true          "raise" conflicts with async_delivery: true;
//	                     "callback"                                          "callback" needs failure_callback
//	failure_callback     name                  OnFailure                     a name in ConfigLoader.OnFailure
//	monitoring           object                Monitor                       keys below
//	workers              integer               Workers                       default 32
//	queue_size           integer               QueueSize                     default 10,000
//	max_body_bytes       integer               MaxBodyBytes                  default 1 MiB; negative: no limit
//	https_only           bool                  HTTPSOnly                     default false
//	circuit_breaker      object                CircuitBreaker                keys below
//
//	monitoring.enabled                        bool     default true; false: no alerts
//	monitoring.alert_on_consecutive_failures  integer  Monitor.AlertOnConsecutiveFailures; required (> 0) when enabled
//	monitoring.alert_callback                 name     Monitor.OnAlert: a name in ConfigLoader.OnAlert
//	circuit_breaker.threshold                 integer  CircuitBreaker.Threshold; negative: no breaker
//	circuit_breaker.cooldown_seconds          number   CircuitBreaker.Cooldown
//
// When none of max_retries, retry_delay_seconds and retry_config is given,
// Config.Retry is nil (Rail Django's defaults). When any is, a field not given
// keeps its default: a missing max_retries stays 3, not 0. The same setting
// may not be given twice (max_retries and retry_config.max_retries).
//
// # Endpoint keys (items of endpoints)
//
//	key                    type                          Endpoint field        notes
//	name                   string                        Name                  required, unique
//	url                    string                        URL                   required
//	secret                 string (secret)               Secret                required
//	previous_secret        string (secret)               PreviousSecret        rotation
//	previous_secret_until  RFC 3339 time                 PreviousSecretUntil   2026-03-01T00:00:00Z
//	events                 list of strings               Events                created, updated, deleted; default all
//	include_models         list of labels                IncludeModels         "store.Order"; default all
//	exclude_models         list of labels                ExcludeModels
//	include_fields         list, or label → list         IncludeFields         a list means {"*": list}
//	exclude_fields         list, or label → list         ExcludeFields         a list means {"*": list}
//	redact_fields          label → {field → value}       RedactFields          or field → value, meaning "*"; any JSON value (see below)
//	headers                string → string (secret)      Headers               static headers
//	auth                   object                        OAuth2                keys below
//	retry_config           object                        Retry                 keys below
//	timeout_seconds        number                        Timeout               default: the top-level one
//	transform              name                          Transform             a name in ConfigLoader.Transforms
//	scheme                 string                        Scheme                "hmac-sha256" (default) or "standard-webhooks"
//	send_filtered_updates  bool                          SendFilteredUpdates   default false
//	enabled                bool                          Disabled = !enabled   default true
//
//	auth.type              "oauth2"          required: the client-credentials grant is the only type
//	auth.client_id         string            OAuth2.ClientID
//	auth.client_secret     string (secret)   OAuth2.ClientSecret
//	auth.token_url         string            OAuth2.TokenURL
//	auth.scope             string            OAuth2.Scopes, space-separated (Rail Django's form)
//	auth.scopes            list of strings   OAuth2.Scopes (instead of scope)
//	auth.endpoint_params   string → string or list of strings   OAuth2.EndpointParams
//
//	retry_config.max_retries      integer          RetryConfig.MaxRetries; default 3
//	retry_config.retry_delay      number (s)       RetryConfig.RetryDelay
//	retry_config.backoff_factor   number           RetryConfig.BackoffFactor
//	retry_config.max_delay        number (s)       RetryConfig.MaxDelay
//	retry_config.retry_on_status  list of integers RetryConfig.RetryOnStatus; [] retries no status
//	retry_config.no_jitter        bool             RetryConfig.NoJitter
//
// An endpoint's retry_config starts from the top-level retry settings of
// the file (or the defaults) and changes the fields it gives.
//
// Rail Django's async_backend values "celery", "dramatiq" and "django_q" are
// errors: in Go, deliveries are queued in memory by default, and a durable
// queue is a [Queue] set in code (Config.Queue).
func LoadConfig(path string) (Config, error) {
	var l ConfigLoader
	return l.Load(path)
}

// ConfigLoader resolves what a file can only name: callbacks and
// transforms registered in code, and the environment. Its zero value is
// LoadConfig: no callbacks, the process environment. Its methods only read
// it, and may run at once as long as its maps are not changed meanwhile.
type ConfigLoader struct {
	// OnFailure holds the functions failure_callback can name, by name
	// (Rail Django's dotted paths, such as "myapp.webhooks.on_webhook_failed",
	// are fine names).
	OnFailure map[string]func(Failure)

	// OnAlert holds the functions monitoring.alert_callback can name.
	OnAlert map[string]func(Alert)

	// Transforms holds the functions an endpoint's transform can name.
	Transforms map[string]func(Payload) (any, error)

	// LookupEnv looks up the variables of ${VAR} references. Nil:
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)

	// MaxBytes bounds the size of the file Load reads (checked before it
	// is read) and of the data Parse is given: a larger one is an error,
	// as parsing costs memory in proportion. Zero: DefaultMaxConfigBytes
	// (1 MiB); negative: no limit.
	MaxBytes int64
}

// DefaultMaxConfigBytes is the size limit of a configuration file when
// ConfigLoader.MaxBytes is zero: 1 MiB, far above what settings need.
const DefaultMaxConfigBytes = 1 << 20

// maxBytes returns the size limit of l's files, 0 for none.
func (l *ConfigLoader) maxBytes() int64 {
	switch {
	case l == nil || l.MaxBytes == 0:
		return DefaultMaxConfigBytes
	case l.MaxBytes < 0:
		return 0
	}
	return l.MaxBytes
}

// tooLarge is the error of a file or data over the limit.
func tooLarge(file, what string, size, limit int64) *ConfigError {
	return &ConfigError{File: file, Msg: fmt.Sprintf("%s is %d bytes, more than the limit of %d (ConfigLoader.MaxBytes)", what, size, limit)}
}

// Load reads the file at path, JSON (.json) or YAML (.yaml, .yml), as
// LoadConfig does, resolving names with l.
func (l *ConfigLoader) Load(path string) (Config, error) {
	var format string
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		format = "json"
	case ".yaml", ".yml":
		format = "yaml"
	default:
		return Config{}, &ConfigError{File: path, Msg: fmt.Sprintf("unknown file extension %q (want .json, .yaml or .yml)", ext)}
	}
	data, err := l.read(path)
	if err != nil {
		return Config{}, err
	}
	return l.parse(data, format, path)
}

// read reads the file at path, refusing one over l's size limit before
// reading it when its size is known, and after reading one byte more than
// the limit otherwise (a pipe, a file that grows).
func (l *ConfigLoader) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("webhook: reading config: %w", err)
	}
	defer f.Close()
	limit := l.maxBytes()
	if limit == 0 {
		data, err := io.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("webhook: reading config: %w", err)
		}
		return data, nil
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, tooLarge(path, "the file", fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: reading config: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("the file is more than the limit of %d bytes (ConfigLoader.MaxBytes)", limit)}
	}
	return data, nil
}

// Parse reads a configuration from data, in format "json" or "yaml", as
// Load does, within the same size limit. Its errors carry lines but no
// file name.
func (l *ConfigLoader) Parse(data []byte, format string) (Config, error) {
	return l.parse(data, format, "")
}

// ConfigError is one problem of a configuration file. Errors from
// LoadConfig, Load and Parse are ConfigErrors (joined when there are
// several), and wrap ErrInvalidConfig.
type ConfigError struct {
	File string // as given to Load; "" from Parse
	Line int    // from 1; 0: the problem has no line
	Col  int    // from 1; set for syntax errors only
	Key  string // the key path, such as "endpoints[1].timeout_seconds"; "" for syntax errors
	Msg  string
}

// Error formats the error as "webhook: FILE:LINE: KEY: MSG", with the
// column after the line for syntax errors, and "line L" for "FILE:L"
// without a file.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("webhook: ")
	switch {
	case e.File != "" && e.Line > 0 && e.Key == "" && e.Col > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0 && e.Key == "" && e.Col > 0:
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Col)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func (l *ConfigLoader) parse(data []byte, format, file string) (Config, error) {
	if l == nil {
		l = &ConfigLoader{}
	}
	if limit := l.maxBytes(); limit > 0 && int64(len(data)) > limit {
		return Config{}, tooLarge(file, "the data", int64(len(data)), limit)
	}
	var root *yamlsub.Node
	var err error
	switch format {
	case "json":
		root, err = yamlsub.ParseJSON(data)
	case "yaml", "yml":
		root, err = yamlsub.Parse(data)
	default:
		return Config{}, &ConfigError{File: file, Msg: fmt.Sprintf("config format %q unknown (want \"json\" or \"yaml\")", format)}
	}
	if err != nil {
		var se *yamlsub.Error
		if errors.As(err, &se) {
			return Config{}, &ConfigError{File: file, Line: se.Line, Col: se.Col, Msg: se.Msg}
		}
		return Config{}, &ConfigError{File: file, Msg: err.Error()}
	}
	m := &mapper{l: l, file: file, env: l.LookupEnv}
	if m.env == nil {
		m.env = os.LookupEnv
	}
	cfg := m.config(root)
	if hasProblem(root) {
		m.unreported(root, "")
	}
	if len(m.errs) > 0 {
		sort.SliceStable(m.errs, func(i, j int) bool { return m.errs[i].Line < m.errs[j].Line })
		errs := make([]error, len(m.errs))
		for i, e := range m.errs {
			errs[i] = e
		}
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// The keys a file may hold.
var (
	topKeys = []string{"enabled", "endpoints", "async_delivery", "async_backend", "queue",
		"timeout_seconds", "max_retries", "retry_delay_seconds", "retry_config", "on_failure",
		"failure_callback", "monitoring", "workers", "queue_size", "max_body_bytes", "https_only",
		"circuit_breaker"}
	endpointKeys = []string{"name", "url", "secret", "previous_secret", "previous_secret_until",
		"events", "include_models", "exclude_models", "include_fields", "exclude_fields",
		"redact_fields", "headers", "auth", "retry_config", "timeout_seconds", "transform",
		"scheme", "send_filtered_updates", "enabled", "tenant", "rate_limit"}
	retryKeys      = []string{"max_retries", "retry_delay", "backoff_factor", "max_delay", "retry_on_status", "no_jitter"}
	monitoringKeys = []string{"enabled", "alert_on_consecutive_failures", "alert_callback"}
	breakerKeys    = []string{"threshold", "cooldown_seconds"}
	authKeys       = []string{"type", "client_id", "client_secret", "token_url", "scope", "scopes", "endpoint_params"}
)

// mapper turns a node tree into a Config, collecting every problem.
type mapper struct {
	l    *ConfigLoader
	file string
	env  func(string) (string, bool)
	errs []*ConfigError
	// reported holds the nodes an error was reported at, so that
	// unreported does not report their Problem again.
	reported map[*yamlsub.Node]bool
}

// entry is a value with the key it is under (nil for list items and the
// root) and its key path.
type entry struct {
	key  *yamlsub.Node
	val  *yamlsub.Node
	path string
}

func (m *mapper) failAt(n *yamlsub.Node, path, format string, args ...any) {
	m.errs = append(m.errs, &ConfigError{File: m.file, Line: n.Line, Key: path, Msg: fmt.Sprintf(format, args...)})
	if m.reported == nil {
		m.reported = make(map[*yamlsub.Node]bool)
	}
	m.reported[n] = true
}

// problem reports the Problem of n, a scalar or a key at path (see
// yamlsub.Node.Problem), with its text unless hide is set or the text is
// not UTF-8.
func (m *mapper) problem(n *yamlsub.Node, path string, hide bool) {
	if hide || n.Problem == yamlsub.NotUTF8 {
		m.failAt(n, path, "%s", n.Problem)
		return
	}
	m.failAt(n, path, "%s: %s", quote(n.Value), n.Problem)
}

// unreported reports the Problems of the nodes under n (at path) that
// the mapping did not read, such as the values of unknown keys or what a
// value of the wrong type holds, without their text (they may be under a
// secret's key): no node with a Problem is ever accepted.
func (m *mapper) unreported(n *yamlsub.Node, path string) {
	if n.Problem != "" && !m.reported[n] {
		m.failAt(n, path, "%s", n.Problem)
	}
	for i, v := range n.Values {
		if n.Kind != yamlsub.Mapping {
			m.unreported(v, fmt.Sprintf("%s[%d]", path, i))
			continue
		}
		k := n.Keys[i]
		p := keyPath(path, k.Value)
		if k.Problem != "" && !m.reported[k] {
			m.problem(k, p, true)
		}
		m.unreported(v, p)
	}
}

// hasProblem reports whether n or a node under it has a Problem.
func hasProblem(n *yamlsub.Node) bool {
	if n.Problem != "" {
		return true
	}
	for _, k := range n.Keys {
		if k.Problem != "" {
			return true
		}
	}
	for _, v := range n.Values {
		if hasProblem(v) {
			return true
		}
	}
	return false
}

// fail reports a problem with e's value: at the value when it is a scalar,
// else at its key, where a reader looks for it.
func (m *mapper) fail(e entry, format string, args ...any) {
	at := e.val
	if e.key != nil && at.Kind != yamlsub.Scalar {
		at = e.key
	}
	m.failAt(at, e.path, format, args...)
}

var identKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath appends key to path: ".key", or `["key"]` for keys such as
// model labels.
func keyPath(path, key string) string {
	if !identKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe says what a value is, for "want X, got Y", without the text of
// a secret.
func describe(n *yamlsub.Node, secret bool) string {
	switch n.Kind {
	case yamlsub.Mapping:
		return "a mapping"
	case yamlsub.Sequence:
		return "a list"
	case yamlsub.Null:
		return "null"
	}
	if secret {
		return "a scalar"
	}
	return quote(n.Value)
}

// quote quotes s for a message, shortened.
func quote(s string) string {
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return strconv.Quote(s)
}

// fields checks that e holds a mapping of known keys and returns its
// entries by key, leaving out null values. It returns nil when e is not a
// mapping.
func (m *mapper) fields(e entry, known []string, hint func(string) string) map[string]entry {
	if e.val.Kind != yamlsub.Mapping {
		m.fail(e, "want a mapping, got %s", describe(e.val, false))
		return nil
	}
	out := make(map[string]entry, len(e.val.Keys))
	for _, x := range m.members(e) {
		if !slices.Contains(known, x.key.Value) {
			m.failAt(x.key, x.path, "unknown key%s", suggest(x.key.Value, known, hint))
			continue
		}
		if x.val.Kind != yamlsub.Null {
			out[x.key.Value] = x
		}
	}
	return out
}

// set reads f[key], when f holds it, into *dst with read.
func set[T any](f map[string]entry, key string, dst *T, read func(entry) (T, bool)) {
	if e, ok := f[key]; ok {
		*dst, _ = read(e)
	}
}

// suggest explains an unknown key: hint's explanation, or the closest
// known key.
func suggest(key string, known []string, hint func(string) string) string {
	if hint != nil {
		if h := hint(key); h != "" {
			return ": " + h
		}
	}
	best, bestDist := "", 0
	lower := strings.ToLower(key)
	for _, k := range known {
		d := foldEditDistance(lower, k)
		if len(key) >= 4 && (strings.HasPrefix(k, lower) || strings.HasPrefix(lower, k)) {
			d = min(d, 2)
		}
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" && bestDist <= max(2, len(key)/4) {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	if len(known) <= 8 {
		return " (want one of " + strings.Join(known, ", ") + ")"
	}
	return ""
}

func topHint(key string) string {
	switch {
	case key == "RAIL_DJANGO_WEBHOOKS" || key == "WEBHOOKS" || key == "webhooks":
		return "the file holds the settings themselves: remove this wrapper key and unindent what it holds"
	case slices.Contains(endpointKeys, key):
		return fmt.Sprintf("%q is an endpoint's setting: put it in an item of endpoints", key)
	case slices.Contains(retryKeys, key):
		return fmt.Sprintf("%q belongs in retry_config", key)
	}
	return ""
}

func endpointHint(key string) string {
	switch {
	case slices.Contains(retryKeys, key) || key == "retry_delay_seconds":
		return fmt.Sprintf("%q belongs in the endpoint's retry_config", key)
	case key == "client_id" || key == "client_secret" || key == "token_url" || key == "scope" || key == "type":
		return fmt.Sprintf("%q belongs in the endpoint's auth", key)
	case slices.Contains(topKeys, key):
		return fmt.Sprintf("%q is a top-level setting, not an endpoint's", key)
	}
	return ""
}

// envName matches the name in a ${...} reference.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${VAR} and ${VAR:-default} in s and $$ by $, in a
// default too; a $ before anything else stays as it is. A default ends at
// the first }, and may not hold a reference. The error message never
// holds s's text when secret is set.
func (m *mapper) expand(s string, secret bool) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i += 2
			continue
		}
		end, nested := refEnd(s, i+2)
		if end < 0 && !nested {
			return "", errors.New("unterminated ${ (a literal $ is written $$)")
		}
		ref := s[i+2:]
		if j := strings.IndexByte(ref, '}'); j >= 0 {
			ref = ref[:j]
		}
		name, def, hasDef := strings.Cut(ref, ":-")
		if nested || !envName.MatchString(name) {
			if secret {
				return "", errors.New("invalid ${...} reference: want ${NAME} or ${NAME:-default} (a literal $ is written $$)")
			}
			return "", fmt.Errorf("invalid reference %s: want ${NAME} or ${NAME:-default} (a literal $ is written $$)", quote("${"+ref+"}"))
		}
		i = end + 1
		v, ok := m.env(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(strings.ReplaceAll(def, "$$", "$"))
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set", name)
		default:
			return "", fmt.Errorf("environment variable %s is empty (write ${%s:-} to allow an empty value)", name, name)
		}
	}
	return b.String(), nil
}

// refEnd returns the offset of the } that ends the reference whose text
// starts at from (after "${"), skipping $$; nested reports a ${ before
// it, which a reference may not hold. It returns -1 when there is none.
func refEnd(s string, from int) (end int, nested bool) {
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '}':
			return j, false
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '$':
			j++
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '{':
			return -1, true
		}
	}
	return -1, false
}

// scalar returns e's text with ${...} expanded, or reports that e is not a
// scalar (wanting want). raw is the text before expansion.
func (m *mapper) scalar(e entry, want string, secret bool) (text, raw string, ok bool) {
	if e.val.Kind != yamlsub.Scalar {
		m.fail(e, "want %s, got %s", want, describe(e.val, secret))
		return "", "", false
	}
	if e.val.Problem != "" {
		m.problem(e.val, e.path, secret)
		return "", "", false
	}
	raw = e.val.Value
	text, err := m.expand(raw, secret)
	if err != nil {
		m.fail(e, "%v", err)
		return "", "", false
	}
	return text, raw, true
}

// shown quotes a scalar's text for a message, or, when it came from the
// environment, the text as written.
func shown(text, raw string) string {
	if text != raw {
		return quote(raw) + " (as expanded)"
	}
	return quote(text)
}

// wrong reports a scalar that is not the wanted type, without echoing a
// value that came from the environment.
func (m *mapper) wrong(e entry, want, text, raw string) {
	m.fail(e, "want %s, got %s", want, shown(text, raw))
}

func (m *mapper) str(e entry, secret bool) (string, bool) {
	s, _, ok := m.scalar(e, "a string", secret)
	return s, ok
}

// text and secret read a string, secret keeping it out of messages.
func (m *mapper) text(e entry) (string, bool)   { return m.str(e, false) }
func (m *mapper) secret(e entry) (string, bool) { return m.str(e, true) }

func (m *mapper) boolean(e entry) (bool, bool) {
	const want = "true or false"
	s, raw, ok := m.scalar(e, want, false)
	if !ok {
		return false, false
	}
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	m.wrong(e, want, s, raw)
	return false, false
}

var (
	intSyntax   = regexp.MustCompile(`^[-+]?[0-9]+$`)
	floatSyntax = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)
)

func (m *mapper) integer(e entry) (int, bool) {
	const want = "an integer"
	s, raw, ok := m.scalar(e, want, false)
	if !ok {
		return 0, false
	}
	if !intSyntax.MatchString(s) {
		m.wrong(e, want, s, raw)
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		m.fail(e, "%s is out of range", quote(raw))
		return 0, false
	}
	return n, true
}

func (m *mapper) number(e entry) (float64, bool) {
	const want = "a number"
	s, raw, ok := m.scalar(e, want, false)
	if !ok {
		return 0, false
	}
	if !floatSyntax.MatchString(s) {
		m.wrong(e, want, s, raw)
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		m.fail(e, "%s is out of range", quote(raw))
		return 0, false
	}
	return f, true
}

// seconds reads a number of seconds.
func (m *mapper) seconds(e entry) (time.Duration, bool) {
	f, ok := m.number(e)
	if !ok {
		return 0, false
	}
	d := math.Round(f * float64(time.Second))
	if math.Abs(d) >= math.MaxInt64 {
		m.fail(e, "out of range: want at most %d seconds", int64(math.MaxInt64/time.Second))
		return 0, false
	}
	return time.Duration(d), true
}

// list checks that e holds a sequence and returns its items as entries.
func (m *mapper) list(e entry, want string) ([]entry, bool) {
	if e.val.Kind != yamlsub.Sequence {
		m.fail(e, "want %s, got %s", want, describe(e.val, false))
		return nil, false
	}
	items := make([]entry, len(e.val.Values))
	for i, v := range e.val.Values {
		items[i] = entry{val: v, path: fmt.Sprintf("%s[%d]", e.path, i)}
	}
	return items, true
}

// members returns the entries of the mapping e holds, leaving out (and
// reporting) those whose key has a Problem.
func (m *mapper) members(e entry) []entry {
	out := make([]entry, 0, len(e.val.Keys))
	for i, k := range e.val.Keys {
		x := entry{key: k, val: e.val.Values[i], path: keyPath(e.path, k.Value)}
		if k.Problem != "" {
			m.problem(k, x.path, false)
			continue
		}
		out = append(out, x)
	}
	return out
}

// listOf reads a list whose items item converts; every bad item is
// reported, and ok is false if any was.
func listOf[T any](m *mapper, e entry, want string, item func(entry) (T, bool)) ([]T, bool) {
	items, ok := m.list(e, want)
	if !ok {
		return nil, false
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		if v, ok1 := item(it); ok1 {
			out = append(out, v)
		} else {
			ok = false
		}
	}
	return out, ok
}

func (m *mapper) strList(e entry) ([]string, bool) {
	return listOf(m, e, "a list of strings", m.text)
}

func (m *mapper) intList(e entry) ([]int, bool) {
	return listOf(m, e, "a list of integers", m.integer)
}

// strMap reads a mapping of strings (header values: secret).
func (m *mapper) strMap(e entry, secret bool) map[string]string {
	if e.val.Kind != yamlsub.Mapping {
		m.fail(e, "want a mapping of names to strings, got %s", describe(e.val, false))
		return nil
	}
	out := make(map[string]string, len(e.val.Keys))
	for _, x := range m.members(e) {
		if s, ok := m.str(x, secret); ok {
			out[x.key.Value] = s
		}
	}
	return out
}

// anyValue reads a replacement value: a plain scalar is typed (null,
// bool, integer, number, else string), a quoted one is a string.
func (m *mapper) anyValue(e entry) any {
	switch e.val.Kind {
	case yamlsub.Null:
		return nil
	case yamlsub.Sequence:
		out := make([]any, len(e.val.Values))
		for i, v := range e.val.Values {
			out[i] = m.anyValue(entry{val: v, path: fmt.Sprintf("%s[%d]", e.path, i)})
		}
		return out
	case yamlsub.Mapping:
		out := make(map[string]any, len(e.val.Keys))
		for _, x := range m.members(e) {
			out[x.key.Value] = m.anyValue(x)
		}
		return out
	}
	s, raw, ok := m.scalar(e, "a value", false)
	switch {
	case !ok || e.val.Quoted:
		return s
	case s == raw:
		return e.val.Data() // typed as YAML readers (or JSON) agree
	}
	// Expanded: typed as the plain scalar it would have been.
	v, problem := yamlsub.Resolve(s)
	if problem != "" {
		m.fail(e, "%s: %s", shown(s, raw), problem)
		return nil
	}
	return v
}

// lookup resolves a registered name.
func lookup[F func(Failure) | func(Alert) | func(Payload) (any, error)](m *mapper, e entry, reg map[string]F, field string) (F, bool) {
	var zero F
	name, raw, ok := m.scalar(e, "a name", false)
	if !ok {
		return zero, false
	}
	if f, ok := reg[name]; ok && f != nil {
		return f, true
	}
	if len(reg) == 0 {
		m.fail(e, "%s is not registered: ConfigLoader.%s is empty (LoadConfig cannot resolve names: use a ConfigLoader)", shown(name, raw), field)
	} else {
		m.fail(e, "%s is not registered in ConfigLoader.%s (registered: %s)", shown(name, raw), field, strings.Join(slices.Sorted(maps.Keys(reg)), ", "))
	}
	return zero, false
}

func (m *mapper) config(root *yamlsub.Node) Config {
	var cfg Config
	if root.Kind == yamlsub.Null {
		m.failAt(root, "", "the file holds no settings: want a mapping such as {endpoints: [...]}")
		return cfg
	}
	top := m.fields(entry{val: root}, topKeys, topHint)
	if top == nil {
		return cfg
	}
	if e, ok := top["enabled"]; ok {
		if v, ok := m.boolean(e); ok {
			cfg.Disabled = !v
		}
	}
	async := false // async_delivery: true was read
	if e, ok := top["async_delivery"]; ok {
		if v, ok := m.boolean(e); ok {
			async = v
			cfg.Sync = !v
		}
	}
	if e, ok := top["async_backend"]; ok {
		if s, raw, ok := m.scalar(e, "a string", false); ok {
			switch s {
			case "", "memory":
			case "celery", "dramatiq", "django_q":
				m.fail(e, "%s is a Python task queue; in Go, deliveries are queued in memory by default, and a durable queue (such as River on PostgreSQL) is set in code through Config.Queue: remove this key or set it to \"memory\"", shown(s, raw))
			default:
				m.fail(e, "unknown backend %s: want \"memory\" (a durable queue is set in code through Config.Queue)", shown(s, raw))
			}
		}
	}
	if e, ok := top["queue"]; ok {
		if s, ok := m.text(e); ok && s != "" {
			m.fail(e, "a queue name needs a durable backend, which a file cannot name: set Config.Queue in code and remove this key")
		}
	}
	set(top, "timeout_seconds", &cfg.Timeout, m.seconds)
	cfg.Retry = m.topRetry(top)

	mode := ""
	onFailure, hasMode := top["on_failure"]
	if hasMode {
		if s, raw, ok := m.scalar(onFailure, "a string", false); ok {
			switch s {
			case "log", "raise", "callback":
				mode = s
			default:
				m.fail(onFailure, "want \"log\", \"raise\" or \"callback\", got %s", shown(s, raw))
			}
		}
	}
	if mode == "raise" {
		cfg.Sync = true
		if async {
			m.fail(onFailure, "\"raise\" delivers inside Emit and returns its error, but async_delivery is true (line %d): set async_delivery: false, or remove it", top["async_delivery"].val.Line)
		}
	}
	callback, hasCallback := top["failure_callback"]
	switch {
	case mode == "callback" && !hasCallback:
		m.fail(onFailure, "\"callback\" needs failure_callback: the name of a function registered in ConfigLoader.OnFailure")
	case mode == "log" && hasCallback:
		m.fail(callback, "set, but on_failure is \"log\" (line %d): set on_failure: callback", onFailure.val.Line)
	}
	if hasCallback {
		cfg.OnFailure, _ = lookup(m, callback, m.l.OnFailure, "OnFailure")
	}
	if e, ok := top["monitoring"]; ok {
		cfg.Monitor = m.monitoring(e)
	}
	set(top, "workers", &cfg.Workers, m.integer)
	set(top, "queue_size", &cfg.QueueSize, m.integer)
	set(top, "max_body_bytes", &cfg.MaxBodyBytes, m.integer)
	set(top, "https_only", &cfg.HTTPSOnly, m.boolean)
	if e, ok := top["circuit_breaker"]; ok {
		f := m.fields(e, breakerKeys, nil)
		set(f, "threshold", &cfg.CircuitBreaker.Threshold, m.integer)
		set(f, "cooldown_seconds", &cfg.CircuitBreaker.Cooldown, m.seconds)
	}
	if e, ok := top["endpoints"]; ok {
		cfg.Endpoints = m.endpoints(e, cfg.Retry)
	}
	return cfg
}

func (m *mapper) monitoring(e entry) Monitor {
	f := m.fields(e, monitoringKeys, nil)
	if f == nil {
		return Monitor{}
	}
	enabled := true
	set(f, "enabled", &enabled, m.boolean)
	var mon Monitor
	n, hasN := f["alert_on_consecutive_failures"]
	if hasN {
		if v, ok := m.integer(n); ok {
			mon.AlertOnConsecutiveFailures = v
			if v <= 0 && enabled {
				m.fail(n, "want a number of failures above 0 while monitoring is enabled")
			}
		}
	} else if enabled {
		m.fail(e, "alert_on_consecutive_failures is required while monitoring is enabled")
	}
	if x, ok := f["alert_callback"]; ok {
		mon.OnAlert, _ = lookup(m, x, m.l.OnAlert, "OnAlert")
	}
	if !enabled {
		return Monitor{}
	}
	return mon
}

// topRetry reads the top-level retry settings: nil when there are none.
func (m *mapper) topRetry(top map[string]entry) *RetryConfig {
	maxE, hasMax := top["max_retries"]
	delayE, hasDelay := top["retry_delay_seconds"]
	rcE, hasRC := top["retry_config"]
	if !hasMax && !hasDelay && !hasRC {
		return nil
	}
	rc := &RetryConfig{MaxRetries: DefaultMaxRetries}
	if hasMax {
		rc.MaxRetries, _ = m.integer(maxE)
	}
	if hasDelay {
		rc.RetryDelay, _ = m.seconds(delayE)
	}
	if hasRC {
		also := map[string]entry{}
		if hasMax {
			also["max_retries"] = maxE
		}
		if hasDelay {
			also["retry_delay"] = delayE
		}
		m.retryConfig(rcE, rc, also)
	}
	return rc
}

// retryConfig applies a retry_config object to rc. also holds settings
// given elsewhere that its keys may not repeat.
func (m *mapper) retryConfig(e entry, rc *RetryConfig, also map[string]entry) {
	f := m.fields(e, retryKeys, func(key string) string {
		if key == "retry_delay_seconds" || key == "max_delay_seconds" {
			return fmt.Sprintf("in retry_config it is %q (in seconds)", strings.TrimSuffix(key, "_seconds"))
		}
		return ""
	})
	for _, name := range retryKeys { // in a fixed order, not the map's
		x, given := f[name]
		if other, dup := also[name]; given && dup {
			m.fail(x, "also set by %s (line %d): keep one", other.path, other.key.Line)
		}
	}
	set(f, "max_retries", &rc.MaxRetries, m.integer)
	set(f, "retry_delay", &rc.RetryDelay, m.seconds)
	set(f, "backoff_factor", &rc.BackoffFactor, m.number)
	set(f, "max_delay", &rc.MaxDelay, m.seconds)
	set(f, "retry_on_status", &rc.RetryOnStatus, m.intList)
	set(f, "no_jitter", &rc.NoJitter, m.boolean)
}

func (m *mapper) endpoints(e entry, base *RetryConfig) []Endpoint {
	items, ok := m.list(e, "a list of endpoints")
	if !ok {
		return nil
	}
	var eps []Endpoint
	for _, it := range items {
		if it.val.Kind == yamlsub.Null {
			m.fail(it, "empty endpoint: want a mapping with name, url and secret")
			continue
		}
		if f := m.fields(it, endpointKeys, endpointHint); f != nil {
			eps = append(eps, m.endpoint(f, base))
		}
	}
	return eps
}

func (m *mapper) endpoint(f map[string]entry, base *RetryConfig) Endpoint {
	var ep Endpoint
	set(f, "name", &ep.Name, m.text)
	set(f, "url", &ep.URL, m.text)
	set(f, "secret", &ep.Secret, m.secret)
	set(f, "previous_secret", &ep.PreviousSecret, m.secret)
	if e, ok := f["previous_secret_until"]; ok {
		if s, raw, ok := m.scalar(e, "a time", false); ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				m.fail(e, "want an RFC 3339 time such as \"2026-03-01T00:00:00Z\", got %s", shown(s, raw))
			}
			ep.PreviousSecretUntil = t
		}
	}
	if e, ok := f["events"]; ok {
		if l, ok := m.strList(e); ok {
			ep.Events = make([]EventType, len(l))
			for i, s := range l {
				ep.Events[i] = EventType(s)
			}
		}
	}
	set(f, "include_models", &ep.IncludeModels, m.strList)
	set(f, "exclude_models", &ep.ExcludeModels, m.strList)
	if e, ok := f["include_fields"]; ok {
		ep.IncludeFields = m.fieldMap(e)
	}
	if e, ok := f["exclude_fields"]; ok {
		ep.ExcludeFields = m.fieldMap(e)
	}
	if e, ok := f["redact_fields"]; ok {
		ep.RedactFields = m.redactMap(e)
	}
	if e, ok := f["headers"]; ok {
		ep.Headers = m.strMap(e, true)
	}
	if e, ok := f["auth"]; ok {
		ep.OAuth2 = m.auth(e)
	}
	if e, ok := f["retry_config"]; ok {
		rc := &RetryConfig{MaxRetries: DefaultMaxRetries}
		if base != nil {
			c := *base
			c.RetryOnStatus = slices.Clone(base.RetryOnStatus)
			rc = &c
		}
		m.retryConfig(e, rc, nil)
		ep.Retry = rc
	}
	set(f, "timeout_seconds", &ep.Timeout, m.seconds)
	if e, ok := f["transform"]; ok {
		ep.Transform, _ = lookup(m, e, m.l.Transforms, "Transforms")
	}
	if e, ok := f["scheme"]; ok {
		s, _ := m.text(e)
		ep.Scheme = SignatureScheme(s)
	}
	set(f, "send_filtered_updates", &ep.SendFilteredUpdates, m.boolean)
	set(f, "tenant", &ep.Tenant, m.text)
	set(f, "rate_limit", &ep.RateLimit, m.number)
	if e, ok := f["enabled"]; ok {
		if v, ok := m.boolean(e); ok {
			ep.Disabled = !v
		}
	}
	return ep
}

// fieldMap reads include_fields or exclude_fields: a list (for every
// model, "*") or a mapping from model label to a list.
func (m *mapper) fieldMap(e entry) map[string][]string {
	switch e.val.Kind {
	case yamlsub.Sequence:
		l, _ := m.strList(e)
		return map[string][]string{allModels: l}
	case yamlsub.Mapping:
		out := make(map[string][]string, len(e.val.Keys))
		for _, x := range m.members(e) {
			if x.val.Kind != yamlsub.Sequence {
				m.fail(x, "want a list of field names, got %s", describe(x.val, false))
				continue
			}
			out[x.key.Value], _ = m.strList(x)
		}
		return out
	}
	m.fail(e, "want a list of field names, or a mapping from model label (or \"*\") to such a list, got %s", describe(e.val, false))
	return nil
}

// redactMap reads redact_fields: model label → {field → replacement}, or
// field → replacement for every model ("*"); the two forms may be mixed.
func (m *mapper) redactMap(e entry) map[string]map[string]any {
	if e.val.Kind != yamlsub.Mapping {
		m.fail(e, "want a mapping from model label (or \"*\") to {field: replacement}, or from field to replacement, got %s", describe(e.val, false))
		return nil
	}
	out := make(map[string]map[string]any)
	var flat []entry
	for _, x := range m.members(e) {
		switch redactEntryKind(x) {
		case redactField:
			flat = append(flat, x)
		case redactModel:
			out[x.key.Value] = m.anyValue(x).(map[string]any)
		default:
			m.fail(x, "ambiguous: a model label with a lowercase model name, or a field whose replacement is an object? "+
				"Write a model as \"app.Model\" (the model name capitalised, as Django and Go models are), "+
				"and a field with an object replacement under \"*\" or its model: {\"*\": {%q: {…}}}", x.key.Value)
		}
	}
	for _, x := range flat {
		star := out[allModels]
		if star == nil {
			star = make(map[string]any)
			out[allModels] = star
		}
		if _, dup := star[x.key.Value]; dup {
			m.fail(x, "also set under %s", keyPath(e.path, allModels))
			continue
		}
		star[x.key.Value] = m.anyValue(x)
	}
	return out
}

// The kinds of a redact_fields entry.
const (
	redactField     = iota // field → replacement, for every model
	redactModel            // model label (or "*") → {field → replacement}
	redactAmbiguous        // could be either: an error, never a guess
)

// redactEntryKind tells a redact_fields entry's form. A scalar or list
// value is a field's replacement. A mapping is a model's fields under "*"
// or a label whose model name is capitalised ("billing.Invoice"); under a
// key without a dot it is a field's object replacement; under any other
// key ("billing.card") it could be a model or a dotted field path, and
// reading it as the wrong one would send the field unredacted.
func redactEntryKind(x entry) int {
	if x.val.Kind != yamlsub.Mapping {
		return redactField
	}
	key := x.key.Value
	switch {
	case key == allModels:
		return redactModel
	case !strings.Contains(key, "."):
		return redactField
	}
	if mi, err := parseLabel(key); err == nil && mi.Name[0] >= 'A' && mi.Name[0] <= 'Z' {
		return redactModel
	}
	return redactAmbiguous
}

func (m *mapper) auth(e entry) *OAuth2 {
	f := m.fields(e, authKeys, nil)
	if f == nil {
		return nil
	}
	o := &OAuth2{}
	if t, ok := f["type"]; !ok {
		m.fail(e, "type is required: \"oauth2\" (the client-credentials grant)")
	} else if s, raw, ok := m.scalar(t, "a string", false); ok && s != "oauth2" {
		m.fail(t, "%s not supported: the only type is \"oauth2\" (for a static token, set headers: {Authorization: \"Bearer …\"})", shown(s, raw))
	}
	set(f, "client_id", &o.ClientID, m.text)
	set(f, "client_secret", &o.ClientSecret, m.secret)
	set(f, "token_url", &o.TokenURL, m.text)
	scope, hasScope := f["scope"]
	if hasScope {
		if s, ok := m.text(scope); ok {
			o.Scopes = strings.Fields(s)
		}
	}
	if x, ok := f["scopes"]; ok {
		if hasScope {
			m.fail(x, "set together with scope (line %d): keep one", scope.key.Line)
		}
		o.Scopes, _ = m.strList(x)
	}
	if x, ok := f["endpoint_params"]; ok {
		if x.val.Kind != yamlsub.Mapping {
			m.fail(x, "want a mapping of parameter names to strings or lists of strings, got %s", describe(x.val, false))
		} else {
			o.EndpointParams = make(map[string][]string, len(x.val.Keys))
			for _, p := range m.members(x) {
				if p.val.Kind == yamlsub.Sequence {
					o.EndpointParams[p.key.Value], _ = m.strList(p)
				} else if s, ok := m.text(p); ok {
					o.EndpointParams[p.key.Value] = []string{s}
				}
			}
		}
	}
	return o
}
