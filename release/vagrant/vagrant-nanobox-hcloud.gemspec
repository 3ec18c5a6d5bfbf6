# The gem holds only the plugin's Ruby code and its locale file; it needs
# nothing at run time beyond what Vagrant ships (log4r, i18n, net-ssh) and
# the nanobox-hcloud-cpi binary, which it runs once per call.
# The version is the repository's (VERSION, the one source of every
# version); release/vagrant/dist gives the build's own in RubyGems' spelling
# through NANOBOX_HCLOUD_GEM_VERSION (0.1.0-dev+g1a2b3c becomes the
# pre-release 0.1.0.dev.g1a2b3c).
Gem::Specification.new do |s|
  s.name        = "vagrant-nanobox-hcloud"
  s.version     = ENV.fetch("NANOBOX_HCLOUD_GEM_VERSION") { File.read(File.expand_path("../../VERSION", __dir__)).strip }
  s.summary     = "A Vagrant provider for Hetzner Cloud, on the nanobox-hcloud CPI"
  s.description = "Registers the :hcloud provider: Vagrant machines as Hetzner Cloud servers, " \
                  "ordered, started, stopped and deleted through the nanobox-hcloud-cpi binary."
  s.authors     = ["nanobox-hcloud"]
  s.homepage    = "https://github.com/nanobox-hcloud/nanobox-hcloud"
  s.license     = "Apache-2.0"
  s.required_ruby_version = ">= 2.7"
  s.files       = Dir.glob("{lib,locales}/**/*", base: __dir__).select { |f| File.file?(File.join(__dir__, f)) }.sort
  s.require_path = "lib"
end
