package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

// exitError carries an exit code out of the cli app.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run is the whole program behind an io seam: args as os.Args, the three
// streams and the environment. It returns the exit code: 0 whenever a
// response was written (stdin mode), non-zero only when none could be.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	// The way an orchestrator runs it (no arguments, or only the config
	// flag) skips the CLI framework: its flag handling costs more than
	// answering meta.
	if configPath, ok := stdinModeArgs(args); ok {
		return serveStdin(ctx, configPath, stdin, stdout, stderr, getenv)
	}
	app := &cli.App{
		Name:    "nanobox-hcloud-cpi",
		Usage:   "the Hetzner Cloud CPI for Nanobox: one JSON request on stdin, one JSON response on stdout",
		Version: version,
		UsageText: "nanobox-hcloud-cpi [-configPath FILE] < request.json\n" +
			"nanobox-hcloud-cpi [-configPath FILE] methods\n" +
			"nanobox-hcloud-cpi [-configPath FILE] call METHOD [ARG...]",
		Description: "Request:  {\"method\": \"order_server\", \"arguments\": [...], \"context\": {\"credentials\": {\"api-token\": \"...\"}}, \"api_version\": 1}\n" +
			"Response: {\"result\": ..., \"error\": null | {\"type\", \"message\", \"ok_to_retry\"}, \"log\": \"...\"}\n" +
			"Environment: HCLOUD_TOKEN (token when the request carries none), HCLOUD_ENDPOINT (API endpoint when the config sets none).",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "configPath", Aliases: []string{"config"}, Usage: "JSON config `FILE` (as the BOSH release renders it)"},
		},
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				fmt.Fprintf(stderr, "nanobox-hcloud-cpi: unknown command %q (try --help)\n", c.Args().First())
				return exitError{2}
			}
			return exitCode(serveStdin(c.Context, c.String("configPath"), stdin, stdout, stderr, getenv))
		},
		Commands: []*cli.Command{
			{
				Name:  "methods",
				Usage: "list the methods this CPI implements",
				Action: func(c *cli.Context) error {
					d := cpi.New(cpi.Env{Version: version}).Dispatcher(nil)
					for _, m := range d.MethodNames() {
						fmt.Fprintln(stdout, m)
					}
					return nil
				},
			},
			{
				Name:      "call",
				Usage:     "build a request from the command line, run it like stdin mode and pretty-print the response",
				ArgsUsage: "METHOD [ARG...]  (each ARG is a JSON object, array or string, or a plain string)",
				Action: func(c *cli.Context) error {
					if c.NArg() < 1 {
						fmt.Fprintln(stderr, "nanobox-hcloud-cpi call: METHOD is required")
						return exitError{2}
					}
					return exitCode(callMethod(c.Context, c.String("configPath"), c.Args().Slice(), stdout, stderr, getenv))
				},
			},
		},
	}
	err := app.RunContext(ctx, args)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "nanobox-hcloud-cpi:", err)
		return 2
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
func serveStdin(ctx context.Context, configPath string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	data, err := io.ReadAll(io.LimitReader(stdin, protocol.MaxRequestBytes+1))
	if err != nil {
		data = nil // answered as an empty request
	}
	resp, ok := serve(ctx, configPath, data, stderr, getenv)
	if !ok {
		return 1
	}
	if _, err := stdout.Write(resp); err != nil {
		fmt.Fprintln(stderr, "nanobox-hcloud-cpi: writing the response:", err)
		return 1
	}
	return 0
}

// callMethod is `call METHOD [ARG...]`: the same request stdin mode would
// get, through the same path, pretty-printed. Exit 1 when the response is
// an error.
func callMethod(ctx context.Context, configPath string, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	req := map[string]any{"method": args[0], "arguments": callArguments(args[1:]), "context": map[string]any{}, "api_version": protocol.APIVersion}
	data, err := json.Marshal(req)
	if err != nil {
		fmt.Fprintln(stderr, "nanobox-hcloud-cpi call:", err)
		return 2
	}
	resp, ok := serve(ctx, configPath, data, stderr, getenv)
	if !ok {
		return 1
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, resp, "", "  "); err != nil {
		pretty.Reset()
		pretty.Write(resp)
	}
	if _, err := stdout.Write(pretty.Bytes()); err != nil {
		return 1
	}
	var parsed protocol.RawResponse
	if json.Unmarshal(resp, &parsed) == nil && parsed.Error != nil {
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

// serve runs one request (raw bytes) and returns the encoded response,
// with every secret redacted. Logs go to stderr and to the response's log
// field, both redacted. ok is false only if no response could be made.
func serve(ctx context.Context, configPath string, data []byte, stderr io.Writer, getenv func(string) string) ([]byte, bool) {
	secrets := &redact.Secrets{}
	// Parsed here only to learn the secrets and the request id before
	// anything is logged; the dispatcher parses (and judges) it again.
	req, _ := protocol.ParseRequest(data)
	if req != nil {
		secrets.Add(req.Context.Credentials.Values()...)
	}
	logField := &redact.Buffer{}
	log := logrus.New()
	log.SetOutput(io.MultiWriter(redact.NewWriter(stderr, secrets), redact.NewWriter(logField, secrets)))
	log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	log.SetLevel(logrus.InfoLevel)

	var out bytes.Buffer
	cfg, err := config.Load(configPath, getenv)
	if cfg != nil {
		secrets.Add(cfg.Token)
	}
	if err != nil {
		log.WithError(err).Error("invalid CPI config")
		resp := protocol.Response{Error: protocol.NewError(protocol.InternalError, "CPI config: %s", secrets.String(err.Error())), Log: logField.String()}
		if protocol.EncodeResponse(&out, resp) != nil {
			return nil, false
		}
		return []byte(secrets.String(out.String())), true
	}
	entry := log.WithField("cpi", cpi.Name)
	if req != nil && req.Context.RequestID != "" {
		entry = entry.WithField("request_id", truncate(req.Context.RequestID, 64))
	}
	c := cpi.New(cpi.Env{Config: cfg, Version: version, Log: entry})
	d := c.Dispatcher(logField.String)
	if err := d.ServeBytes(ctx, data, &out); err != nil {
		fmt.Fprintln(stderr, "nanobox-hcloud-cpi:", err)
		return nil, false
	}
	return []byte(secrets.String(out.String())), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
