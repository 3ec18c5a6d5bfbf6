module VagrantPlugins
  module HCloud
    module Action
      # MessageNotCreated says the machine has no server.
      class MessageNotCreated
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          env[:ui].info(I18n.t("vagrant_hcloud.not_created"))
          @app.call(env)
        end
      end

      # MessageNotRunning says the machine's server does not run.
      class MessageNotRunning
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          env[:ui].info(I18n.t("vagrant_hcloud.not_running", state: env[:machine].state.id))
          @app.call(env)
        end
      end

      # MessageWillNotDestroy says destroy was declined.
      class MessageWillNotDestroy
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          env[:ui].info(I18n.t("vagrant_hcloud.will_not_destroy", name: env[:machine].name))
          @app.call(env)
        end
      end
    end
  end
end
