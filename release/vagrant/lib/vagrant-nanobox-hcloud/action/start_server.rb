module VagrantPlugins
  module HCloud
    module Action
      # StartServer powers the machine's server on (a running one stays).
      class StartServer
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          env[:ui].info(I18n.t("vagrant_hcloud.starting"))
          env[:hcloud_cpi].call("start_server", env[:machine].id)
          @app.call(env)
        end
      end
    end
  end
end
