module VagrantPlugins
  module HCloud
    module Action
      # StopServer stops the machine's server through the CPI, never with a
      # shutdown command over SSH: gracefully (Hetzner's ACPI shutdown, then
      # a power-off after the CPI's bounded wait), or with `halt -f`
      # (:force_halt) a power-off at once. An off server stays off.
      class StopServer
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          force = env[:force_halt] ? true : false
          env[:ui].info(I18n.t(force ? "vagrant_hcloud.powering_off" : "vagrant_hcloud.stopping"))
          env[:hcloud_cpi].call("stop_server", env[:machine].id, { "force" => force })
          @app.call(env)
        end
      end
    end
  end
end
