require "log4r"
require "vagrant"

module VagrantPlugins
  module HCloud
    # Provider is the :hcloud provider of one machine.
    class Provider < Vagrant.plugin("2", :provider)
      def initialize(machine)
        super
        @machine = machine
      end

      # action answers the action stack of name, or nil when Vagrant asks
      # for one this provider does not have (Vagrant then says so).
      def action(name)
        method = "action_#{name}"
        return Action.send(method) if Action.respond_to?(method)

        nil
      end

      # ssh_info is nil until the server runs.
      def ssh_info
        env = @machine.action("read_ssh_info", lock: false)
        env[:machine_ssh_info]
      end

      def state
        env = @machine.action("read_state", lock: false)
        id = env[:machine_state_id]
        short = I18n.t("vagrant_hcloud.states.short_#{id}", default: id.to_s)
        long = I18n.t("vagrant_hcloud.states.long_#{id}",
                      default: I18n.t("vagrant_hcloud.states.long_other", state: id.to_s))
        Vagrant::MachineState.new(id, short, long)
      end

      def to_s
        "Hetzner Cloud (#{@machine.id || 'new'})"
      end
    end
  end
end
