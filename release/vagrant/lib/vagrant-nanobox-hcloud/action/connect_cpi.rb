module VagrantPlugins
  module HCloud
    module Action
      # ConnectCpi puts the machine's CPI client into :hcloud_cpi.
      class ConnectCpi
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          machine = env[:machine]
          env[:hcloud_cpi] = Cpi.new(machine.provider_config, machine.env.root_path)
          @app.call(env)
        end
      end
    end
  end
end
