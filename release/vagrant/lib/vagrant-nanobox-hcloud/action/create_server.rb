require "log4r"

module VagrantPlugins
  module HCloud
    module Action
      # CreateServer orders the machine's server. The order is idempotent by
      # name: repeated with the same settings it answers the same server.
      # When a later step fails with anything but a Vagrant error (an
      # interrupt, a crash), the server is deleted again.
      class CreateServer
        def initialize(app, _env)
          @app = app
          @logger = Log4r::Logger.new("vagrant::hcloud::create_server")
        end

        def call(env)
          machine = env[:machine]
          body = self.class.order(env[:hcloud_cpi], machine, env[:hcloud_key_id])
          env[:ui].info(I18n.t("vagrant_hcloud.creating", name: body["name"], type: body["size"],
                                                          location: body["region"], image: body["config"]["image"]))
          machine.id = env[:hcloud_cpi].call("order_server", body)["id"]
          env[:ui].info(I18n.t("vagrant_hcloud.created", id: machine.id))
          @app.call(env)
        end

        def recover(env)
          return if env["vagrant.error"].is_a?(Vagrant::Errors::VagrantError)
          return if env[:machine].id.nil?

          @logger.info("deleting server #{env[:machine].id}: the up did not finish")
          env[:hcloud_cpi].call("cancel_server", env[:machine].id)
          env[:machine].id = nil
        end

        # order is the order_server body: the provider config's settings,
        # meta's defaults for those left out.
        def self.order(cpi, machine, key_id)
          config = machine.provider_config
          meta = cpi.meta
          body = {
            "name" => Naming.server_name(machine.env.root_path, machine.name),
            "region" => config.location || meta["default_region"],
            "size" => config.server_type || meta["default_size"],
            "ssh_key" => key_id,
            "config" => { "image" => config.image || default_image(meta) },
          }
          body["user_data"] = config.user_data if config.user_data
          body["labels"] = config.labels.to_h { |k, v| [k.to_s, v] } unless config.labels.empty?
          body
        end

        def self.default_image(meta)
          field = Array(meta["config_fields"]).find { |f| f["key"] == "image" }
          field && field["default"]
        end
      end
    end
  end
end
