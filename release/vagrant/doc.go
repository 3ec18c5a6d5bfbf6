// Package vagrant holds no Go code of its own: it is the Vagrant provider
// plugin vagrant-nanobox-hcloud (a Ruby gem: lib/, locales/, spec/ and the
// gemspec; docs/vagrant.md) and its end-to-end test, which drives Debian's
// real vagrant against bin/hcloud-sim and a throwaway sshd on 127.0.0.1.
//
// The test needs vagrant, ruby's gem, rsync, sudo and sshd; on Debian:
// apt-get install -y vagrant ruby-rspec openssh-server rsync sudo (.ci/run
// installs them). It fails, never skips, when one is missing.
package vagrant
