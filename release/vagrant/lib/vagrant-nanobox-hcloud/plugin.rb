begin
  require "vagrant"
rescue LoadError
  raise "The vagrant-nanobox-hcloud plugin must be run within Vagrant."
end

module VagrantPlugins
  module HCloud
    # Plugin registers the :hcloud provider, its configuration and the
    # `vagrant hcloud` command with Vagrant.
    class Plugin < Vagrant.plugin("2")
      name "hcloud"
      description <<-DESC
      A provider for Hetzner Cloud servers, driven through the
      nanobox-hcloud-cpi binary.
      DESC

      config(:hcloud, :provider) do
        setup_i18n
        require_relative "config"
        Config
      end

      # box_optional: a server is installed from a Hetzner image, not a box.
      # parallel: every call is a separate CPI process, and the CPI orders
      # and waits per server, so machines come up side by side.
      provider(:hcloud, parallel: true, box_optional: true) do
        setup_i18n
        require_relative "provider"
        Provider
      end

      command("hcloud") do
        setup_i18n
        require_relative "command/root"
        Command::Root
      end

      # setup_i18n adds the plugin's strings to Vagrant's, once.
      def self.setup_i18n
        path = File.expand_path("locales/en.yml", HCloud.source_root)
        return if I18n.load_path.include?(path)

        I18n.load_path << path
        I18n.reload!
      end
    end
  end
end
