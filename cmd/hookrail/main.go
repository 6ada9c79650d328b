// Command hookrail is a developer's tool for webhooks signed by
// github.com/hookrail/webhook: a local receiver that verifies and prints
// what it gets, signing and verifying captured requests, and sending one
// event through a webhooks.yaml.
//
// Usage:
//
//	hookrail listen [--secret S]... [--scheme hmac|standard] [--addr 127.0.0.1:8787] [--status 200]
//	hookrail sign   --secret S... [--scheme hmac|standard] [--timestamp T] [--id ID] [--body FILE|-]
//	hookrail verify --secret S... [--scheme hmac|standard] --headers FILE|- --body FILE|- [--tolerance 5m] [--now T]
//	hookrail send   --config webhooks.yaml --model app.Model --event created|updated|deleted --object FILE [--old FILE]
//	hookrail help [command]
//
// listen serves http://ADDR/ (any path) until SIGINT or SIGTERM. It
// verifies each request with webhook.Verifier when --secret is given
// (repeat it to accept several secrets, as during a rotation) and prints
// it: the time, the headers that matter, the event's id, type and model,
// the body as indented JSON, and the verification's result, with the
// exact reason when it fails. It answers --status to a request that
// verified (or to every request without --secret), 401 to one whose
// signature is missing, wrong or stale, 400 to one whose signature
// headers are malformed, and 413 to a body over 1 MiB. With --addr 127.0.0.1:0 it picks a free port;
// its first line is "hookrail: listening on http://ADDR/ …" either way.
//
// sign prints the headers a sender would send with the body, as
// "Name: value" lines: the format verify reads. Several --secret flags
// give several signatures, as during a rotation. The event id is --id,
// else the body's "id"; SchemeStandard needs one, as it is signed.
//
// verify checks a captured request: its headers, as "Name: value" lines
// (curl -D writes them; a request or status line, and blank lines, are
// skipped), and its raw body. It prints "ok", or "fail: " and why: bad
// signature, timestamp outside tolerance, missing header, malformed
// header, signature header too large; each followed by the library's
// error, which names the header.
//
// send loads a configuration file with webhook.LoadConfig (its errors are
// printed as they are: they name the file, the line and the key), turns
// on Sync delivery (the file's queue settings are replaced), emits one
// event built from the JSON files and prints each endpoint's outcome:
// delivered, failed (with the *webhook.DeliveryError) or skipped (with the
// reason). Retries run as the file says, within --timeout.
//
// Exit codes:
//
//	0  success: verify printed "ok", sign printed the headers, send
//	   delivered to every endpoint that wanted the event, listen stopped
//	   on a signal
//	1  failure: verify found the request invalid, send failed to
//	   deliver to an endpoint, or listen could not serve
//	2  usage error: an unknown command or flag, a missing or invalid
//	   argument, a file that cannot be read, an invalid configuration
//	   file or event
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command runs with: its standard streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // the synopsis line after "hookrail "
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() []command {
	return []command{
		{"listen", "receive webhooks on a local address, verify and print them",
			"listen [--secret S]... [--scheme hmac|standard] [--addr 127.0.0.1:8787] [--status 200]", runListen},
		{"sign", "print the headers a sender would send with a body",
			"sign --secret S... [--scheme hmac|standard] [--timestamp T] [--id ID] [--body FILE|-]", runSign},
		{"verify", "check a captured request's signature",
			"verify --secret S... [--scheme hmac|standard] --headers FILE|- --body FILE|- [--tolerance 5m] [--now T]", runVerify},
		{"send", "emit one event through a webhooks.yaml and print each endpoint's outcome",
			"send --config webhooks.yaml --model app.Model --event created|updated|deleted --object FILE [--old FILE]", runSend},
	}
}

const exitCodesHelp = `Exit codes:
  0  success
  1  failure: verification failed, a delivery failed, the receiver could not serve
  2  usage error: bad command line, unreadable file, invalid config or event
`

func topUsage(w io.Writer) {
	fmt.Fprintln(w, "hookrail: a developer's tool for signed webhooks (github.com/hookrail/webhook)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  hookrail %s\n", c.usage)
	}
	fmt.Fprintln(w, "  hookrail help [command]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "hookrail COMMAND --help" for a command's flags.`)
	fmt.Fprintln(w)
	fmt.Fprint(w, exitCodesHelp)
}

// run runs the command line args (without the program name) and returns
// the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		topUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			for _, c := range commands() {
				if c.name == args[1] {
					return c.run(ctx, e, []string{"--help"})
				}
			}
			fmt.Fprintf(stderr, "hookrail: unknown command %q\n\n", args[1])
			topUsage(stderr)
			return exitUsage
		}
		topUsage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "hookrail: unknown command %q\n\n", name)
	topUsage(stderr)
	return exitUsage
}

// newFlagSet returns the flag set of a command, its usage text built from
// the command's synopsis, the description and the flags.
func newFlagSet(e *env, name, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("hookrail "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		for _, c := range commands() {
			if c.name == name {
				fmt.Fprintf(w, "Usage: hookrail %s\n\n", c.usage)
			}
		}
		fmt.Fprintln(w, strings.TrimSpace(description))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Flags:")
		printFlags(w, fs)
		fmt.Fprintln(w)
		fmt.Fprint(w, exitCodesHelp)
	}
	return fs
}

// parse parses args with fs. It returns the exit code and false when the
// command is over: --help (0, usage on stdout) or a usage error (2).
func parse(e *env, fs *flag.FlagSet, args []string) (int, bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, to the right stream
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK, false
	case err != nil:
		fmt.Fprintln(fs.Output()) // flag printed the error
		fs.Usage()
		return exitUsage, false
	case fs.NArg() > 0:
		return usageError(e, fs, "unexpected argument %q", fs.Arg(0)), false
	}
	return 0, true
}

// usageError prints a usage error and the command's usage to stderr, and
// returns exitUsage.
func usageError(e *env, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "%s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// inputError prints an error about the command's input (a file it cannot
// read, an invalid configuration) without the usage, and returns
// exitUsage.
func inputError(e *env, fs *flag.FlagSet, err error) int {
	fmt.Fprintf(e.stderr, "%s: %v\n", fs.Name(), err)
	return exitUsage
}

// printFlags lists fs's flags as PrintDefaults does, with the two dashes
// of the synopsis.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if placeholder != "" {
			line += " " + placeholder
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(usage, "\n", "\n      "))
	})
}
