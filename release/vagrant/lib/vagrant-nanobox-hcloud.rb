require "pathname"

require "vagrant-nanobox-hcloud/plugin"

module VagrantPlugins
  # HCloud is the :hcloud provider: each Vagrant machine is a Hetzner Cloud
  # server, managed through the nanobox-hcloud-cpi binary (one JSON request
  # on its stdin, one JSON response on its stdout, per call).
  module HCloud
    lib_path = Pathname.new(File.expand_path("vagrant-nanobox-hcloud", __dir__))
    autoload :Action, lib_path.join("action")
    autoload :Cpi, lib_path.join("cpi")
    autoload :Errors, lib_path.join("errors")
    autoload :Naming, lib_path.join("naming")

    # The gem's root directory (holds locales/).
    def self.source_root
      @source_root ||= Pathname.new(File.expand_path("..", __dir__))
    end
  end
end
