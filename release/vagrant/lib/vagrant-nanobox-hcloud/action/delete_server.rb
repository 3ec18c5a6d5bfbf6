module VagrantPlugins
  module HCloud
    module Action
      # DeleteServer deletes the machine's server (one already gone is
      # success) and clears the machine's id and data directory.
      class DeleteServer
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          env[:ui].info(I18n.t("vagrant_hcloud.deleting", id: env[:machine].id))
          env[:hcloud_cpi].call("cancel_server", env[:machine].id)
          env[:machine].id = nil
          @app.call(env)
        end
      end
    end
  end
end
