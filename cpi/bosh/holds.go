package bosh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// A hold is how a running call tells the other CPI processes of its host
// that an object it creates is its own: an exclusive flock on the file
// bosh-<object name>-<project>.lock in the state directory, held from
// before the create until the call ends (the kernel releases it when the
// process dies). A create_vm waits for the hold of its server's name, so two
// overlapping create_vm for one agent run one after the other, and the
// second adopts the server the first made. A call that meets a server or
// volume still carrying the creating mark takes its hold without waiting
// before it deletes it: when that succeeds, no running call of this host
// holds the object. The file is removed when the hold ends; a holder checks
// after locking that the path still names the file it locked, so a file
// removed meanwhile is never shared.
type hold struct {
	f    *os.File
	path string
}

// project is the call's corner of the state directory: state_dir, else
// (when that cannot be created, as /var/vcap/data on an operator's machine
// under bosh create-env) $HOME/.cache/nanobox-hcloud. nil when neither
// works: then no holds are taken and only the age of a creating mark tells
// an orphan (see orphanAge).
func (c *CPI) project() *statedir.Project {
	if c.proj != nil || c.projTried {
		return c.proj
	}
	c.projTried = true
	dirs := []string{c.cfg.StateDir}
	if home := os.Getenv("HOME"); filepath.IsAbs(home) {
		dirs = append(dirs, filepath.Join(home, ".cache", "nanobox-hcloud"))
	}
	for _, dir := range dirs {
		p, err := statedir.Open(dir, c.cfg.Endpoint, c.cfg.Token)
		if err == nil {
			c.proj = p
			return p
		}
		c.log.Warnf("bosh: state directory %s is not usable (%v)", dir, err)
	}
	c.log.Warnf("bosh: no usable state directory: an unfinished create is recognised by its age alone")
	return nil
}

// creatorID names this host's state directory and project in the creating
// mark (LabelCreator); "" without a state directory.
func (c *CPI) creatorID() string {
	if p := c.project(); p != nil {
		return p.ID()
	}
	return ""
}

func (c *CPI) holdPath(name string) string {
	p := c.project()
	if p == nil {
		return ""
	}
	return p.Path("bosh-"+name, "lock")
}

// holdWait takes the hold of an object name, waiting for its holder; nil
// (and no error) without a state directory.
func (c *CPI) holdWait(ctx context.Context, op, name string) (*hold, error) {
	path := c.holdPath(name)
	if path == "" {
		return nil, nil
	}
	for {
		h, ok, err := tryHold(path)
		if err != nil {
			return nil, newError(CloudError, "%s: taking the hold of %s in the state directory: %v", op, name, err)
		}
		if ok {
			return h, nil
		}
		timer := time.NewTimer(c.cfg.PollInterval())
		select {
		case <-ctx.Done():
			timer.Stop()
			t := CloudError
			if op == "create_vm" {
				t = VMCreationFailed
			}
			return nil, newError(t, "%s: another call of this host still creates %s; retry", op, name).WithRetry(true)
		case <-timer.C:
		}
	}
}

// holdFree takes the hold of an object name if no call holds it: ok is
// false when one does. Without a state directory it answers nil, false.
func (c *CPI) holdFree(name string) (*hold, bool) {
	path := c.holdPath(name)
	if path == "" {
		return nil, false
	}
	h, ok, err := tryHold(path)
	if err != nil {
		c.log.Warnf("bosh: the hold of %s: %v", name, err)
		return nil, false
	}
	return h, ok
}

// tryHold locks path exclusively without waiting, creating the file.
func tryHold(path string) (*hold, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	// The previous holder may have removed the file between our open and
	// our lock: then another process can create and lock a new one, so a
	// lock on the removed file means nothing.
	var held, now unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(path, &now) != nil || held.Ino != now.Ino || held.Dev != now.Dev {
		f.Close()
		return nil, false, nil
	}
	return &hold{f: f, path: path}, true, nil
}

// release removes the hold's file and ends the hold; nil does nothing.
func (h *hold) release() {
	if h == nil || h.f == nil {
		return
	}
	_ = os.Remove(h.path)
	_ = unix.Flock(int(h.f.Fd()), unix.LOCK_UN)
	h.f.Close()
	h.f = nil
}
