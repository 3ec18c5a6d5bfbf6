package release

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRendererMimicsBOSH pins down what release/scripts/render-job does with
// a job made for the purpose (testdata/renderer-job), since every rendering
// test depends on it behaving like the director: spec defaults under
// manifest values, only declared properties visible, p with a default or a
// list of names, if_p and its else, the instance spec, executable bin/.
func TestRendererMimicsBOSH(t *testing.T) {
	requireTool(t, "ruby", "ruby")
	job := filepath.Join(releaseDir(t), "testdata", "renderer-job")
	render := func(props map[string]any) (string, string, error) {
		out := t.TempDir()
		data, _ := json.Marshal(props)
		propsFile := filepath.Join(t.TempDir(), "props.json")
		writeFile(t, propsFile, string(data))
		cmd := exec.Command("ruby", filepath.Join(releaseDir(t), "scripts", "render-job"), job, propsFile, out)
		msg, err := cmd.CombinedOutput()
		if err != nil {
			return "", string(msg), err
		}
		return out, string(msg), nil
	}

	out, msg, err := render(map[string]any{
		"a":   map[string]any{"number": 42},
		"not": map[string]any{"declared": "visible"},
	})
	if err != nil {
		t.Fatalf("render: %v: %s", err, msg)
	}
	got := readFile(t, filepath.Join(out, "config", "all.txt"))
	want := strings.Join([]string{
		"string=from-spec",
		"number=42",
		"list=x,y",
		"fallback=given-default",
		"array=second-default",
		"if_p-set=from-spec/42",
		"if_p-else-ran",
		"undeclared=invisible",
		"name=nanobox index=0 job=renderer-job bootstrap=true",
		"",
	}, "\n")
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
	if fi, err := os.Stat(filepath.Join(out, "bin", "run")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("bin/run not rendered executable: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(out, "config", "all.txt")); err != nil || fi.Mode().Perm()&0o111 != 0 {
		t.Errorf("config/all.txt rendered executable: %v", err)
	}

	// A property with neither value nor default fails the render, naming it.
	if _, msg, err := render(map[string]any{}); err == nil || !strings.Contains(msg, "a.number") {
		t.Errorf("render without a.number: %v %q, want a failure naming a.number", err, msg)
	}
}
