package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/bosh"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/nanobox"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// run is the whole program behind an io seam: args as os.Args, the three
// streams and the environment. It returns the exit code (CLI.Run).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return CLI{
		Name:    "nanobox-hcloud-cpi",
		Usage:   "the Hetzner Cloud CPI for Nanobox: one JSON request on stdin, one JSON response on stdout",
		Version: version,
		Description: "Environment: HCLOUD_TOKEN (token when the request carries none), " +
			"HCLOUD_ENDPOINT (API endpoint when the config sets none).",
		Setup: func(configPath string) protocol.Setup {
			return cpi.Process{ConfigPath: configPath, Version: version, Getenv: getenv, Stderr: stderr,
				Nanobox: nanoboxFactory, Bosh: boshFactory}.Setup
		},
	}.Run(ctx, args, stdin, stdout, stderr)
}

// nanoboxFactory registers the Nanobox methods (package cpi/nanobox).
func nanoboxFactory(e cpi.Env) protocol.NanoboxFactory { return nanobox.New(e) }

// boshFactory registers the BOSH methods (package cpi/bosh) with the CPI.
func boshFactory(e cpi.Env) protocol.BoshFactory {
	return bosh.Factory{Env: bosh.Env{Env: e}}
}

// CLI is the command line of the CPI binary. Run with no arguments, or
// with only the config flag, it serves one request from stdin
// (protocol.ServeOnce), the way BOSH and the shim run it. `methods` lists
// the methods it serves; `call METHOD [ARG...]` builds a request from its
// arguments, serves it the same way and pretty-prints the response.
type CLI struct {
	Name        string // the binary's name
	Usage       string // one line: what it is
	Version     string
	Description string // what --help adds below the request and response format
	// Setup returns the Setup of a run with the config file at configPath
	// ("" for none).
	Setup func(configPath string) protocol.Setup
}

// exitError carries an exit code out of the cli app.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Run runs the command line args (as os.Args) on the three streams and
// returns the exit code: 0 whenever a response was written (stdin mode),
// non-zero only when none could be; 2 for a usage error.
func (c CLI) Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// The way an orchestrator runs it skips the CLI framework: its flag
	// handling costs more than answering meta.
	if configPath, ok := stdinModeArgs(args); ok {
		return c.serveStdin(ctx, configPath, stdin, stdout, stderr)
	}
	err := c.app(stdin, stdout, stderr).RunContext(ctx, args)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return 2
	}
}

func (c CLI) app(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    c.Name,
		Usage:   c.Usage,
		Version: c.Version,
		UsageText: c.Name + " [-configPath FILE] < request.json\n" +
			c.Name + " [-configPath FILE] methods\n" +
			c.Name + " [-configPath FILE] call METHOD [ARG...]",
		Description: "Request:  {\"method\": \"order_server\", \"arguments\": [...], \"context\": {\"credentials\": {\"api-token\": \"...\"}}, \"api_version\": 1}\n" +
			"Response: {\"result\": ..., \"error\": null | {\"type\", \"message\", \"ok_to_retry\"}, \"log\": \"...\"}\n" + c.Description,
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "configPath", Aliases: []string{"config"}, Usage: "JSON config `FILE` (as the BOSH release renders it)"},
		},
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Action: func(x *cli.Context) error {
			if x.NArg() > 0 {
				fmt.Fprintf(stderr, "%s: unknown command %q (try --help)\n", c.Name, x.Args().First())
				return exitError{2}
			}
			return exitCode(c.serveStdin(x.Context, x.String("configPath"), stdin, stdout, stderr))
		},
		Commands: []*cli.Command{
			{
				Name:  "methods",
				Usage: "list the methods this CPI implements",
				Action: func(x *cli.Context) error {
					d, _ := c.Setup("")(x.Context, protocol.Context{})
					if d != nil {
						fmt.Fprintln(stdout, strings.Join(d.MethodNames(), "\n"))
					}
					return nil
				},
			},
			{
				Name:      "call",
				Usage:     "build a request from the command line, run it like stdin mode and pretty-print the response",
				ArgsUsage: "METHOD [ARG...]  (each ARG is a JSON object, array or string, or a plain string)",
				Action: func(x *cli.Context) error {
					if x.NArg() < 1 {
						fmt.Fprintf(stderr, "%s call: METHOD is required\n", c.Name)
						return exitError{2}
					}
					return exitCode(c.call(x.Context, x.String("configPath"), x.Args().Slice(), stdout, stderr))
				},
			},
		},
	}
}

// stdinModeArgs recognises the command lines of stdin mode: none, or the
// config flag alone (-configPath F, --configPath F, -config F, --config F,
// or with "="). Anything else goes through the CLI framework.
func stdinModeArgs(args []string) (configPath string, ok bool) {
	rest := args[1:]
	switch len(rest) {
	case 0:
		return "", true
	case 1:
		name, value, hasValue := strings.Cut(strings.TrimLeft(rest[0], "-"), "=")
		if hasValue && isConfigFlag(rest[0], name) && value != "" {
			return value, true
		}
	case 2:
		if isConfigFlag(rest[0], strings.TrimLeft(rest[0], "-")) && rest[1] != "" && !strings.HasPrefix(rest[1], "-") {
			return rest[1], true
		}
	}
	return "", false
}

func isConfigFlag(arg, name string) bool {
	dashes := len(arg) - len(strings.TrimLeft(arg, "-"))
	return (dashes == 1 || dashes == 2) && (name == "configPath" || name == "config")
}

func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return exitError{code}
}

// serveStdin is stdin mode: one request in, one response out.
func (c CLI) serveStdin(ctx context.Context, configPath string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := protocol.ServeOnce(ctx, stdin, stdout, c.Setup(configPath)); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return 1
	}
	return 0
}

// call is `call METHOD [ARG...]`: the request stdin mode would get, served
// the same way, pretty-printed. Exit 1 when the response is an error.
func (c CLI) call(ctx context.Context, configPath string, args []string, stdout, stderr io.Writer) int {
	req, err := json.Marshal(map[string]any{"method": args[0], "arguments": callArguments(args[1:]), "api_version": protocol.APIVersion})
	if err != nil {
		fmt.Fprintf(stderr, "%s call: %v\n", c.Name, err)
		return 1
	}
	var out bytes.Buffer
	if err := protocol.ServeOnce(ctx, bytes.NewReader(req), &out, c.Setup(configPath)); err != nil {
		fmt.Fprintf(stderr, "%s call: %v\n", c.Name, err)
		return 1
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out.Bytes(), "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out.Bytes())
	}
	if _, err := stdout.Write(pretty.Bytes()); err != nil {
		return 1
	}
	var resp protocol.RawResponse
	if json.Unmarshal(out.Bytes(), &resp) == nil && resp.Error != nil {
		return 1
	}
	return 0
}

// callArguments turns command-line words into JSON arguments: a word that
// is a JSON object, array or string is used as is, any other word is a
// string (so `call query_server 42` sends "42").
func callArguments(words []string) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(words))
	for _, w := range words {
		t := strings.TrimSpace(w)
		if t != "" && strings.ContainsRune(`{["`, rune(t[0])) && json.Valid([]byte(t)) {
			out = append(out, json.RawMessage(t))
			continue
		}
		b, _ := json.Marshal(w)
		out = append(out, b)
	}
	return out
}
