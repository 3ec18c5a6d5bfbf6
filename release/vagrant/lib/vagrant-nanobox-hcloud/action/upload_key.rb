module VagrantPlugins
  module HCloud
    module Action
      # UploadKey registers the machine's SSH public key (create_key is
      # idempotent: a key already there answers its id) and puts the id
      # into :hcloud_key_id.
      class UploadKey
        def initialize(app, _env)
          @app = app
        end

        def call(env)
          name, key = Naming.public_key(env[:machine])
          env[:ui].info(I18n.t("vagrant_hcloud.uploading_key", name: name))
          env[:hcloud_key_id] = env[:hcloud_cpi].call("create_key", { "id" => name, "key" => key })["id"]
          @app.call(env)
        end
      end
    end
  end
end
