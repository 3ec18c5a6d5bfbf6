// Command stubcpi is a CPI for the shim's tests. It speaks the protocol on
// stdin/stdout, and each request chooses how it behaves through the
// credential "stub-mode" (header Auth-Stub-Mode), else the environment
// variable STUB_MODE:
//
//	""/ok          answer each method with a valid result
//	error:<Type>   answer an error of that type (ok_to_retry: the type's default)
//	error:<Type>:noretry   the same with ok_to_retry false
//	error:<Type>[:noretry]:after=<N>   either with retry_after_seconds N
//	leak           echo every credential into stderr, the log field and the error message
//	sleep          write "<pid> <grandchild pid>" to <stub-dir>/pids, then sleep (with a grandchild)
//	block          create <stub-dir>/started-<pid>, wait for <stub-dir>/release, then answer
//	crash          panic (exit 2, stack on stderr)
//	signal         kill itself with SIGKILL
//	exit3          write a valid response, then exit 3
//	garbage        write text that is not JSON
//	nothing        write nothing, exit 0
//	null           answer a null result
//	empty-object   answer {}
//	unknown-type   answer an error of a type the protocol does not know
//	big            write more than the shim keeps of stdout
//	echo-env       answer {"env": [...]} (its environment)
//	echo-request   answer {"request": <the request>, "args": [...]}; also write the
//	               request to <stub-dir>/request.json (the shim redacts secrets in answers)
//
// The credential "stub-dir" (Auth-Stub-Dir) names the directory for files.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func main() {
	if os.Getenv("STUB_GRANDCHILD") == "1" {
		time.Sleep(10 * time.Minute)
		return
	}
	data, _ := io.ReadAll(os.Stdin)
	req, perr := protocol.ParseRequest(data)
	if perr != nil {
		write(protocol.Response{Error: perr})
		return
	}
	creds := req.Context.Credentials
	mode := creds["stub-mode"]
	if mode == "" {
		mode = os.Getenv("STUB_MODE")
	}
	dir := creds["stub-dir"]

	switch {
	case mode == "" || mode == "ok":
		result, err := answer(req)
		write(protocol.Response{Result: result, Error: err})
	case strings.HasPrefix(mode, "error:"):
		name := strings.TrimPrefix(mode, "error:")
		after := 0
		if i := strings.LastIndex(name, ":after="); i >= 0 {
			after, _ = strconv.Atoi(name[i+len(":after="):])
			name = name[:i]
		}
		name, noRetry := strings.CutSuffix(name, ":noretry")
		t := protocol.ErrorType(name)
		e := protocol.NewError(t, "stub %s for %s", t, req.Method)
		if noRetry {
			e = e.WithRetry(false)
		}
		// Set on the wire as a CPI would send it, whatever its value.
		e.RetryAfterSeconds = after
		write(protocol.Response{Error: e})
	case mode == "leak":
		var vals []string
		for k, v := range creds {
			vals = append(vals, k+"="+v)
		}
		all := strings.Join(vals, " ")
		fmt.Fprintln(os.Stderr, "stderr sees:", all)
		write(protocol.Response{Error: protocol.NewError(protocol.InvalidArguments, "rejected credentials %s", all), Log: "log sees: " + all})
	case mode == "sleep":
		gc := exec.Command(os.Args[0])
		gc.Env = append(os.Environ(), "STUB_GRANDCHILD=1")
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "grandchild:", err)
			os.Exit(1)
		}
		line := fmt.Sprintf("%d %d\n", os.Getpid(), gc.Process.Pid)
		writeFile(filepath.Join(dir, "pids"), line)
		time.Sleep(10 * time.Minute)
	case mode == "block":
		writeFile(filepath.Join(dir, "started-"+strconv.Itoa(os.Getpid())), "")
		for {
			if _, err := os.Stat(filepath.Join(dir, "release")); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		result, err := answer(req)
		write(protocol.Response{Result: result, Error: err})
	case mode == "crash":
		fmt.Print(`{"result": {"id": "half`)
		panic("stub crash")
	case mode == "signal":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case mode == "exit3":
		result, err := answer(req)
		write(protocol.Response{Result: result, Error: err})
		os.Exit(3)
	case mode == "garbage":
		fmt.Println("this is not JSON at all")
	case mode == "nothing":
	case mode == "null":
		fmt.Println(`{"result": null, "error": null, "log": ""}`)
	case mode == "empty-object":
		fmt.Println(`{}`)
	case mode == "unknown-type":
		fmt.Println(`{"result": null, "error": {"type": "Bosh::Clouds::Weird", "message": "odd", "ok_to_retry": false}, "log": ""}`)
	case mode == "big":
		fmt.Print(`{"result": "`)
		chunk := strings.Repeat("x", 1<<20)
		for i := 0; i < 10; i++ {
			fmt.Print(chunk)
		}
		fmt.Println(`", "error": null, "log": ""}`)
	case mode == "echo-env":
		write(protocol.Response{Result: map[string]any{"env": os.Environ()}})
	case mode == "echo-request":
		if dir != "" {
			writeFile(filepath.Join(dir, "request.json"), string(data))
		}
		write(protocol.Response{Result: map[string]any{"request": json.RawMessage(data), "args": os.Args[1:]}})
	default:
		write(protocol.Response{Error: protocol.NewError(protocol.InvalidArguments, "stub: unknown mode %q", mode)})
	}
}

func write(resp protocol.Response) {
	if err := protocol.EncodeResponse(os.Stdout, resp); err != nil {
		os.Exit(1)
	}
}

func writeFile(path, content string) {
	// The temporary name matches no pattern the tests look for.
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(1)
	}
	if err := os.Rename(tmp, path); err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		os.Exit(1)
	}
}

// answer gives each method a valid result, checking the arguments as the
// real CPI's dispatcher does.
func answer(req *protocol.Request) (any, *protocol.Error) {
	if req.Method == protocol.MethodInfo {
		methods := []string{protocol.MethodInfo}
		for _, m := range protocol.Table {
			if m.Family == protocol.FamilyNanobox {
				methods = append(methods, m.Name)
			}
		}
		return protocol.Info{APIVersion: protocol.APIVersion, Name: "stubcpi", Version: "0.0.1", Methods: methods}, nil
	}
	call, perr := protocol.CheckArguments(req)
	if perr != nil {
		return nil, perr
	}
	switch req.Method {
	case protocol.MethodMeta:
		return protocol.Meta{
			ID: "stub", Name: "Stub Cloud", ServerNickName: "Box", DefaultRegion: "r1", DefaultSize: "s1",
			DefaultPlan: "standard", CanReboot: true, CanRename: true, InternalIface: "eth1", ExternalIface: "eth0",
			SSHUser: "root", SSHAuthMethod: "key", SSHKeyMethod: "reference",
			BootstrapScript:  "https://s3.amazonaws.com/tools.nanobox.io/bootstrap/ubuntu.sh",
			CredentialFields: []protocol.CredentialField{{Key: "api-token", Label: "API Token"}},
			ConfigFields:     []protocol.ConfigField{{Key: "image", Label: "Image", Description: "OS image", Type: "enum", Values: []protocol.ConfigValue{{Value: "ubuntu-24.04", Label: "Ubuntu 24.04"}}, Default: "ubuntu-24.04", Rebuild: true}},
			Instructions:     "Make a token.",
		}, nil
	case protocol.MethodCatalog:
		return []protocol.Region{{ID: "r1", Name: "Region 1", Plans: []protocol.Plan{{ID: "standard", Name: "Standard", Specs: []protocol.Spec{
			{ID: "s1", RAM: 2048, CPU: 2, Disk: 40, Transfer: 20, DollarsPerHr: 0.01, DollarsPerMo: 5},
		}}}}}, nil
	case protocol.MethodCreateKey:
		body := protocol.BodyOf[protocol.KeyBody](call)
		if body.KeyName() == "" || body.Key == "" {
			return nil, protocol.NewError(protocol.InvalidArguments, "create_key needs a name (id or name) and a key")
		}
		return protocol.IDResult{ID: "key-" + body.KeyName()}, nil
	case protocol.MethodQueryKey:
		if call.Params[0] == "missing" {
			return nil, protocol.NewError(protocol.NotFound, "no key %s", call.Params[0])
		}
		return protocol.Key{ID: call.Params[0], Name: "stub-key", PublicKey: "ssh-ed25519 AAAAstub"}, nil
	case protocol.MethodOrderServer:
		return protocol.IDResult{ID: "srv-" + protocol.BodyOf[protocol.OrderServerBody](call).Name}, nil
	case protocol.MethodQueryServer:
		if call.Params[0] == "missing" {
			return nil, protocol.NewError(protocol.NotFound, "no server %s", call.Params[0])
		}
		return protocol.Server{ID: call.Params[0], Status: "active", Name: "box", ExternalIP: "192.0.2.1", InternalIP: "10.0.0.2",
			Config: map[string]any{"image": "ubuntu-24.04"}}, nil
	}
	return nil, nil
}
